"""Reading request inputs (query params, headers, JSON bodies) with errors that name the field."""

from __future__ import annotations

import math
from typing import Any, TypeVar

from starlette.requests import Request

from baton.api.state import service
from baton.errors import BatonError, FieldError, ValidationError
from baton.model.codec import convert, decode

T = TypeVar("T")


def query_or_header(request: Request, name: str) -> str | None:
    """Conductor's clients send some parameters as headers and others as query params; accept both."""
    value = request.query_params.get(name)
    if value is None:
        value = request.headers.get(name)
    return value


INT32_MAX = 2**31 - 1
"""Conductor's ``int`` parameters (start, size, count, timeout, version, priority) fit a Java int."""
INT64_MAX = 2**63 - 1
"""Its ``long`` ones (startTime, endTime: epoch milliseconds) a Java long."""
_LONG_PARAMS = frozenset({"startTime", "endTime"})


def parse_int(raw: str, name: str, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """A whole number in range, from a query or path parameter; anything else is a 400 naming ``name``."""
    text = raw.strip()
    # int() also takes '1_000' and ' 7 ' and unicode digits; a parameter is plain ASCII digits.
    digits = text[1:] if text[:1] in ("-", "+") else text
    if not digits.isascii() or not digits.isdigit():
        raise ValidationError(errors=[FieldError(name, f"must be a whole number, got '{raw[:40]}'")])
    high = (INT64_MAX if name in _LONG_PARAMS else INT32_MAX) if maximum is None else maximum
    low = -high - 1 if minimum is None else minimum
    # More digits than any bound has: out of range without converting (int() refuses 4,300+ digits).
    value = int(text) if len(digits) <= 19 else None
    if value is None or not low <= value <= high:
        raise ValidationError(errors=[FieldError(name, f"must be between {low} and {high}, got '{raw[:40]}'")])
    return value


def optional_int_param(
    request: Request, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    return parse_int(raw, name, minimum=minimum, maximum=maximum)


def int_param(
    request: Request, name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    value = optional_int_param(request, name, minimum=minimum, maximum=maximum)
    return default if value is None else value


def int_path_param(request: Request, name: str) -> int:
    """A ``{name:int}`` path parameter (digits only by the route), bounded like a query parameter."""
    return parse_int(str(request.path_params[name]), name, minimum=0)


def float_param(request: Request, name: str, default: float) -> float:
    raw = query_or_header(request, name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValidationError(errors=[FieldError(name, f"must be a number, got '{raw[:40]}'")]) from None
    if not math.isfinite(value):
        raise ValidationError(errors=[FieldError(name, f"must be a finite number, got '{raw[:40]}'")])
    return value


def bool_param(request: Request, name: str, default: bool) -> bool:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ValidationError(errors=[FieldError(name, f"must be true or false, got '{raw}'")])


def max_json_depth(request: Request) -> int:
    return service(request).context.settings.max_json_depth


def decode_json(request: Request, raw: bytes | str, into: type[T], what: str = "body") -> T:
    """Decode JSON from the request (its body, or a query parameter) with the server's depth bound."""
    return decode(raw, into, what=what, max_depth=max_json_depth(request))


class UnsupportedMediaType(BatonError):
    """The body is not JSON: send it with ``Content-Type: application/json``."""


def is_json_media_type(content_type: str | None) -> bool:
    """Whether a body sent with this ``Content-Type`` is read as JSON: ``application/json``, ``application/*+json``,
    or no type at all (a bare HTTP client that names none means JSON here; Conductor's clients all name it)."""
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


async def _json_bytes(request: Request) -> bytes | None:
    """The body's bytes, None when it is empty; a body of another media type (a form, text) is 415."""
    raw = await request.body()
    if not raw.strip():
        return None
    content_type = request.headers.get("content-type")
    if not is_json_media_type(content_type):
        raise UnsupportedMediaType(
            f"Content-Type '{content_type}' is not supported: send the body as JSON with Content-Type: application/json"
        )
    return raw


async def optional_body_as(request: Request, into: type[T]) -> T | None:
    """Decode the JSON body into ``into``; None when there is no body."""
    raw = await _json_bytes(request)
    if raw is None:
        return None
    return decode_json(request, raw, into)


async def body_as(request: Request, into: type[T], *, empty: T | None = None) -> T:
    """Decode the JSON body into ``into``; an empty body gives ``empty`` when one is allowed."""
    value = await optional_body_as(request, into)
    if value is None:
        if empty is not None:
            return empty
        raise ValidationError(errors=[FieldError("body", "is required")])
    return value


async def json_body(request: Request, *, empty: Any = None) -> Any:
    raw = await _json_bytes(request)
    if raw is None:
        if empty is not None:
            return empty
        raise ValidationError(errors=[FieldError("body", "is required")])
    return decode_json(request, raw, Any)


async def string_list_body(request: Request, noun: str) -> list[str]:
    """A JSON list of strings (``noun``: what each is, for the error naming the item at fault)."""
    body = await json_body(request)
    if not isinstance(body, list):
        raise ValidationError(errors=[FieldError("body", f"must be a JSON list of {noun}s")])
    for index, item in enumerate(body):
        if not isinstance(item, str):
            raise ValidationError(errors=[FieldError(f"body[{index}]", f"must be a {noun} (a string)")])
    return body


def as_type(value: Any, into: type[T], what: str = "body") -> T:
    return convert(value, into, what=what)
