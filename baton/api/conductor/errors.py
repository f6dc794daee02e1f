"""Conductor's error body, ``{status, message, instance, retryable, validationErrors?}``, and its handlers."""

from __future__ import annotations

import socket
from typing import Any

from starlette.responses import Response

from baton.api import errors
from baton.api.responses import JSONResponse
from baton.errors import FieldError

_HOST = socket.gethostname()


def error_body(status_code: int, message: str, fields: list[FieldError]) -> Response:
    return JSONResponse(error_content(status_code, message, fields), status_code=status_code)


def error_content(status_code: int, message: str, fields: list[FieldError]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": status_code,
        "message": message,
        "instance": _HOST,
        "retryable": status_code in (429, 503),
    }
    if fields:
        body["validationErrors"] = [{"path": field.path, "message": field.message} for field in fields]
    return body


exception_handlers = errors.exception_handlers(error_body)
