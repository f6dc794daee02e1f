"""JSON in and out of the model, with errors that name the field at fault."""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from baton.errors import FieldError, ValidationError

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_PATH_SUFFIX = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def decode(data: bytes | str, into: type[T], *, what: str = "body") -> T:
    """Decode JSON into ``into``; a malformed body or a wrong type is a ValidationError naming the field."""
    try:
        return msgspec.json.decode(data, type=into)
    except msgspec.ValidationError as exc:
        raise _validation_error(str(exc), what) from exc
    except msgspec.DecodeError as exc:
        raise ValidationError(f"{what}: malformed JSON ({exc})", [FieldError(what, "malformed JSON")]) from exc


def convert(value: Any, into: type[T], *, what: str = "body") -> T:
    """Like ``decode``, from already-parsed JSON values."""
    try:
        return msgspec.convert(value, type=into)
    except msgspec.ValidationError as exc:
        raise _validation_error(str(exc), what) from exc


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


def _validation_error(text: str, what: str) -> ValidationError:
    match = _PATH_SUFFIX.match(text)
    message = match.group("message") if match else text
    raw_path = (match.group("path") if match else None) or ""
    path = raw_path.lstrip(".") or what
    missing = re.match(r"Object missing required field `(?P<field>[^`]+)`", message)
    if missing:
        field = missing.group("field")
        path = f"{path}.{field}" if raw_path else field
        message = "is required"
    return ValidationError(f"{path}: {message}", [FieldError(path, message)])
