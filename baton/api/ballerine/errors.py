"""Ballerine's error body, ``{statusCode, message, timestamp, path, errors?: [{message, path}]}``, and its handlers.

A field problem is Ballerine's class-validator answer: 400 ``"Validation error"`` with ``errors``; an error
that has words of its own (``"Entity id is required"``) keeps them, its fields listed beside. The status
codes are ``api/errors.py``'s, as on every surface; only the body, which names the request's path, is here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ExceptionHandler

from baton.api import errors
from baton.api.responses import ErrorBody, JSONResponse
from baton.errors import FieldError


def error_body(path: str) -> ErrorBody:
    """The body of an error answered to a request for ``path``."""

    def body(status_code: int, message: str, fields: list[FieldError]) -> Response:
        if fields and message == "; ".join(f"{field.path}: {field.message}" for field in fields):
            message = "Validation error"
        content: dict[str, Any] = {
            "statusCode": status_code,
            "message": message,
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "path": path,
        }
        if fields:
            content["errors"] = [{"message": field.message, "path": field.path} for field in fields]
        return JSONResponse(content, status_code=status_code)

    return body


HttpHandler = Callable[[Request, Exception], Awaitable[Response]]


def _answering(kind: type[Exception]) -> ExceptionHandler:
    """The shared handler of ``kind``, answering in a body that names the request's path."""

    async def handle(request: Request, exc: Exception) -> Response:
        handler = cast(HttpHandler, errors.exception_handlers(error_body(request.url.path))[kind])
        return await handler(request, exc)

    return handle


exception_handlers: dict[Any, ExceptionHandler] = {
    kind: _answering(kind) for kind in errors.exception_handlers(error_body(""))
}
