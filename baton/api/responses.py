"""Rendering: model structs to JSON responses, and Conductor's error body."""

from __future__ import annotations

import socket
from typing import Any

from starlette.responses import Response

from baton.errors import BatonError, ConflictError, NotFoundError, StoreError, ValidationError
from baton.model.codec import encode

_HOST = socket.gethostname()


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return encode(content)


def text(value: str, status_code: int = 200) -> Response:
    return Response(value, status_code=status_code, media_type="text/plain")


def no_content() -> Response:
    return Response(status_code=204)


def status_for(exc: BatonError) -> int:
    if isinstance(exc, ValidationError):
        return 400
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, StoreError):
        return 503
    return 500


def error_response(status_code: int, message: str, validation_errors: list[dict[str, Any]] | None = None) -> Response:
    body: dict[str, Any] = {
        "status": status_code,
        "message": message,
        "instance": _HOST,
        "retryable": status_code in (429, 503),
    }
    if validation_errors:
        body["validationErrors"] = validation_errors
    return JSONResponse(body, status_code=status_code)


def baton_error_response(exc: BatonError) -> Response:
    errors = None
    if isinstance(exc, ValidationError):
        errors = [{"path": e.path, "message": e.message} for e in exc.errors]
    return error_response(status_for(exc), exc.message, errors)
