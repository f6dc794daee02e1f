"""JSON in and out of the model, with errors that name the field at fault."""

from __future__ import annotations

import operator
import re
from itertools import accumulate, count
from typing import Any, TypeVar

import msgspec

from baton.errors import FieldError, ValidationError

T = TypeVar("T")

_encoder = msgspec.json.Encoder()
_PATH_SUFFIX = re.compile(r"^(?P<message>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_ESCAPE = re.compile(rb"\\.", re.DOTALL)
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_BRACKETS_AS_PARENS = bytes.maketrans(b"[{]}", b"(())")
_OPEN_AS_TWO = bytes.maketrans(b"()", b"\x02\x00")
_PEEL_PASSES = 4
MALFORMED_JSON = "malformed JSON"
"""The field message of text that does not parse (the other refusals are Baton's own bounds: depth, NUL)."""


def encode(value: Any) -> bytes:
    return _encoder.encode(value)


def decode(data: bytes | str, into: type[T], *, what: str = "body", max_depth: int | None = None) -> T:
    """Decode JSON into ``into``; a malformed body or a wrong type is a ValidationError naming the field.

    With ``max_depth`` (a request's JSON) so is nesting deeper than that, and a NUL character in any string.
    """
    if max_depth is not None:
        raw = data.encode() if isinstance(data, str) else data
        if nested_deeper_than(raw, max_depth):
            raise _too_deep(what, max_depth)
        where = nul_path(raw)
        if where is not None:
            path = where if what == "body" else f"{what}.{where}" if where != "body" else what
            message = "must not hold a NUL character (\\u0000)"
            raise ValidationError(f"{path}: {message}", [FieldError(path, message)])
    try:
        return msgspec.json.decode(data, type=into)
    except msgspec.ValidationError as exc:
        raise _validation_error(str(exc), what, into) from exc
    except msgspec.DecodeError as exc:
        raise ValidationError(f"{what}: malformed JSON ({exc})", [FieldError(what, MALFORMED_JSON)]) from exc
    except RecursionError:
        raise _too_deep(what, max_depth) from None


def nested_deeper_than(raw: bytes, max_depth: int) -> bool:
    """Whether the JSON text ``raw`` nests arrays and objects more than ``max_depth`` levels deep.

    Done with operations that run in C rather than a Python loop over characters. Strings are cut out
    (escapes first, then every other piece between quotes); the brackets left make a shape such as
    ``(()(()))``. Each pass of removing every ``()`` peels one level (most bodies are gone after a few),
    and leaves the running depth of every bracket left as it was: the depth of the rest, as the running
    sum of ``(`` = 2 and ``)`` = 0 less its position, plus the passes made, is the depth of the whole.
    Most bodies hold fewer brackets than the bound and stop at the first count.
    """
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return False
    if b"\\" in raw:
        raw = _ESCAPE.sub(b"", raw)
    shape = b"".join(raw.split(b'"')[::2]).translate(_BRACKETS_AS_PARENS, _NOT_BRACKETS)
    peeled = 0
    while shape and peeled < min(_PEEL_PASSES, max_depth):
        shape = shape.replace(b"()", b"")
        peeled += 1
    if not shape:
        return False
    deepest: int = max(map(operator.sub, accumulate(shape.translate(_OPEN_AS_TWO)), count(1)))
    return deepest + peeled > max_depth


def nul_path(raw: bytes) -> str | None:
    """Where a string (a value or a key) of the JSON text ``raw`` holds U+0000, or None.

    PostgreSQL's text cannot hold it, and a value of a body may become a name or a key on its way
    into the store. JSON writes it only as the escape ``\\u0000``, so a byte search tells first; only
    a body holding that escape is walked. Malformed text is left for the decoder to report.
    """
    if b"\\u0000" not in raw:
        return None
    try:
        value = msgspec.json.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    return _nul_in(value, "")


def _nul_in(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return (path or "body") if "\x00" in value else None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _nul_in(item, f"{path}[{index}]")
            if found:
                return found
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                shown = key.replace("\x00", "\\u0000")
                return f"{path}.{shown}" if path else shown
            found = _nul_in(item, f"{path}.{key}" if path else key)
            if found:
                return found
    return None


def convert(value: Any, into: type[T], *, what: str = "body") -> T:
    """Like ``decode``, from already-parsed JSON values."""
    try:
        return msgspec.convert(value, type=into)
    except msgspec.ValidationError as exc:
        raise _validation_error(str(exc), what, into) from exc
    except RecursionError:
        raise _too_deep(what, None) from None


def _too_deep(what: str, max_depth: int | None) -> ValidationError:
    message = f"nested deeper than {max_depth} levels" if max_depth is not None else "nested too deeply"
    return ValidationError(f"{what}: {message}", [FieldError(what, message)])


def to_builtins(value: Any) -> Any:
    return msgspec.to_builtins(value)


def _validation_error(text: str, what: str, into: Any = None) -> ValidationError:
    match = _PATH_SUFFIX.match(text)
    message = match.group("message") if match else text
    raw_path = (match.group("path") if match else None) or ""
    path = raw_path.lstrip(".") or what
    if message.startswith("Invalid enum value") and into is not None:
        allowed = _enum_values_at(into, raw_path)
        if allowed:
            message = f"{message}: must be one of {', '.join(allowed)}"
    missing = re.match(r"Object missing required field `(?P<field>[^`]+)`", message)
    if missing:
        field = missing.group("field")
        path = f"{path}.{field}" if raw_path else field
        message = "is required"
    return ValidationError(f"{path}: {message}", [FieldError(path, message)])


_PATH_STEP = re.compile(r"\.(?P<field>[^.\[]+)|\[(?P<index>[^\]]*)\]")


def _enum_values_at(into: Any, raw_path: str) -> list[str]:
    """The values the enum at ``raw_path`` (msgspec's ``.tasks[2].type``) of type ``into`` allows; [] if none is."""
    info: Any = msgspec.inspect.type_info(into)
    for step in _PATH_STEP.finditer(raw_path):
        info = _step_into(info, step.group("field"))
        if info is None:
            return []
    if isinstance(info, msgspec.inspect.EnumType):
        return [str(member.value) for member in info.cls]
    if isinstance(info, msgspec.inspect.UnionType):
        for member in info.types:
            if isinstance(member, msgspec.inspect.EnumType):
                return [str(value.value) for value in member.cls]
    return []


def _step_into(info: Any, field: str | None) -> Any:
    """The type one step (a field by its JSON name, or an item) inside ``info``; None when it has no such step."""
    if isinstance(info, msgspec.inspect.UnionType):
        for member in info.types:
            inner = _step_into(member, field)
            if inner is not None:
                return inner
        return None
    if field is not None:
        if isinstance(info, msgspec.inspect.StructType | msgspec.inspect.DataclassType):
            return next((f.type for f in info.fields if f.encode_name == field), None)
        return None
    if isinstance(info, msgspec.inspect.ListType | msgspec.inspect.SetType | msgspec.inspect.FrozenSetType):
        return info.item_type
    if isinstance(info, msgspec.inspect.DictType):
        return info.value_type
    return None
