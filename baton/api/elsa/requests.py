"""Reading Elsa's requests: its body rule, ``versionOptions``, and typed fields whose errors name the field.

Elsa reads a body only when its ``Content-Type`` contains ``application/json``; any other
body (or none) is ``{}``, and JSON that does not parse (or is not an object) is a 400
``Invalid request body.`` (with, for a body past Baton's own bounds, nesting or a NUL, the bound it broke).
Field names are read as written (camelCase).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request

from baton.api.params import decode_json, parse_int
from baton.errors import FieldError, ValidationError
from baton.model.codec import MALFORMED_JSON

INVALID_BODY = "Invalid request body."
NOT_A_DICTIONARY = "Input must be a dictionary."
_LATEST = frozenset({"", "published", "latest", "latestorpublished", "latestandpublished"})


async def elsa_body(request: Request) -> dict[str, Any]:
    """The JSON object a request carries under Elsa's rule; ``{}`` without one."""
    if "application/json" not in request.headers.get("content-type", "").lower():
        return {}
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        value = decode_json(request, raw, Any)
    except ValidationError as exc:
        # Elsa's words; and, for the bounds Baton adds (nesting, NUL), which one the body broke.
        bounds = [error for error in exc.errors if error.message != MALFORMED_JSON]
        raise ValidationError(INVALID_BODY, [FieldError("", INVALID_BODY), *bounds] if bounds else []) from None
    if not isinstance(value, dict):
        raise ValidationError(INVALID_BODY)
    return value


def version_of(raw: Any) -> int | None:
    """The version ``versionOptions`` selects: None for the latest (``Published``, the default, and ``Latest``)."""
    if raw is None:
        return None
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
        return raw
    if isinstance(raw, str):
        text = raw.strip()
        if text.lower() in _LATEST:
            return None
        if text.isascii() and text.isdigit():
            return parse_int(text, "versionOptions", minimum=1)
    shown = str(raw)[:60]
    message = f"must be Published, Latest or a version number (1 or more), got '{shown}'"
    raise ValidationError(errors=[FieldError("versionOptions", message)])


def text_field(body: Mapping[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None or isinstance(value, str):
        return value
    raise ValidationError(errors=[FieldError(name, "must be a string")])


def map_field(body: Mapping[str, Any], name: str, message: str = "must be a JSON object") -> dict[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if isinstance(value, dict):
        return value
    raise ValidationError(errors=[FieldError(name, message)])


def json_query_map(request: Request, name: str) -> dict[str, Any]:
    """A query parameter holding a JSON object (the GET execute's ``input`` and ``variables``)."""
    raw = request.query_params.get(name)
    if raw is None or not raw.strip():
        return {}
    value = decode_json(request, raw, Any, what=name)
    if not isinstance(value, dict):
        raise ValidationError(errors=[FieldError(name, "must be a JSON object")])
    return value
