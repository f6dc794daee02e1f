"""Elsa's error answers: FastEndpoints' ``{statusCode, message, errors: {field: [messages]}}``, and a bare 404.

A 400 says FastEndpoints' ``One or more errors occurred!`` and names each field at fault in
``errors`` (an error of no one field goes under ``generalErrors``); other statuses carry their
own message. A 404 (and a 405) has no body, as Elsa sends its ``NotFound``.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from baton.api import errors
from baton.api.responses import JSONResponse
from baton.errors import FieldError

GENERAL_ERRORS = "generalErrors"
_VALIDATION_MESSAGE = "One or more errors occurred!"


def error_body(status_code: int, message: str, fields: list[FieldError]) -> Response:
    if status_code in (404, 405):
        return Response(status_code=status_code)
    grouped: dict[str, list[str]] = {}
    for field in fields:
        grouped.setdefault(field.path or GENERAL_ERRORS, []).append(field.message)
    if not grouped:
        grouped[GENERAL_ERRORS] = [message]
    body: dict[str, Any] = {
        "statusCode": status_code,
        "message": _VALIDATION_MESSAGE if status_code == 400 else message,
        "errors": grouped,
    }
    return JSONResponse(body, status_code=status_code)


exception_handlers = errors.exception_handlers(error_body)
