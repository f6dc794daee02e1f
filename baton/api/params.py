"""Reading request inputs (query params, headers, JSON bodies) with errors that name the field."""

from __future__ import annotations

from typing import Any, TypeVar

from starlette.requests import Request

from baton.errors import FieldError, ValidationError
from baton.model.codec import convert, decode

T = TypeVar("T")


def query_or_header(request: Request, name: str) -> str | None:
    """Conductor's clients send some parameters as headers and others as query params; accept both."""
    value = request.query_params.get(name)
    if value is None:
        value = request.headers.get(name)
    return value


def optional_int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(errors=[FieldError(name, f"must be a whole number, got '{raw}'")]) from None


def int_param(request: Request, name: str, default: int) -> int:
    value = optional_int_param(request, name)
    return default if value is None else value


def float_param(request: Request, name: str, default: float) -> float:
    raw = query_or_header(request, name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValidationError(errors=[FieldError(name, f"must be a number, got '{raw}'")]) from None


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


async def body_as(request: Request, into: type[T], *, empty: T | None = None) -> T:
    """Decode the JSON body into ``into``; an empty body gives ``empty`` when one is allowed."""
    raw = await request.body()
    if not raw.strip():
        if empty is not None:
            return empty
        raise ValidationError(errors=[FieldError("body", "is required")])
    return decode(raw, into)


async def json_body(request: Request, *, empty: Any = None) -> Any:
    raw = await request.body()
    if not raw.strip():
        if empty is not None:
            return empty
        raise ValidationError(errors=[FieldError("body", "is required")])
    return decode(raw, Any)


def as_type(value: Any, into: type[T], what: str = "body") -> T:
    return convert(value, into, what=what)
