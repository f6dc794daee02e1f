"""From an exception to an error answer: the status codes, chosen here for every surface, in each surface's body.

A surface gives its ``ErrorBody`` (Conductor's is ``api/conductor/errors.py``) and
mounts the handlers ``exception_handlers`` makes of it, so its routes answer in
its own shape whatever the others do.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ExceptionHandler

from baton.api.key_limits import HeadersTooLarge, PathTooLong, TooManyRequests
from baton.api.limits import BodyReadTimeout, PayloadTooLarge
from baton.api.params import UnsupportedMediaType
from baton.api.responses import ErrorBody
from baton.errors import (
    AuthenticationError,
    BatonError,
    ConflictError,
    FieldError,
    NotConfiguredError,
    NotFoundError,
    PermissionDeniedError,
    StoreError,
    ValidationError,
)

log = logging.getLogger(__name__)


def status_for(exc: BatonError) -> int:
    if isinstance(exc, ValidationError):
        return 400
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, AuthenticationError):
        return 401
    if isinstance(exc, PermissionDeniedError):
        return 403
    if isinstance(exc, StoreError | NotConfiguredError):
        return 503
    return 500


def baton_error_answer(body: ErrorBody, exc: BatonError) -> Response:
    fields = exc.errors if isinstance(exc, ValidationError) else []
    return body(status_for(exc), exc.message, fields)


def exception_handlers(body: ErrorBody) -> dict[type[Exception], ExceptionHandler]:
    """Starlette exception handlers answering a surface's errors in ``body``."""

    async def on_baton_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BatonError)
        if isinstance(exc, PayloadTooLarge | BodyReadTimeout):
            # The rest of the body may still be on its way: answer, then close the connection.
            status = 413 if isinstance(exc, PayloadTooLarge) else 408
            response = body(status, exc.message, [FieldError("body", exc.message)])
            response.headers["connection"] = "close"
            return response
        if isinstance(exc, UnsupportedMediaType):
            return body(415, exc.message, [FieldError("Content-Type", exc.message)])
        if isinstance(exc, TooManyRequests):
            response = body(429, exc.message, [])
            response.headers["retry-after"] = str(exc.retry_after_s)
            return response
        if isinstance(exc, HeadersTooLarge):
            return body(431, exc.message, [FieldError("headers", exc.message)])
        if isinstance(exc, PathTooLong):
            return body(414, exc.message, [FieldError("path", exc.message)])
        if isinstance(exc, StoreError):
            log.error("store failure on %s %s: %s", request.method, request.url.path, exc)
        return baton_error_answer(body, exc)

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return body(404, f"No route for {request.method} {request.url.path}", [])
        if exc.status_code == 405:
            return body(405, f"Method {request.method} is not allowed on {request.url.path}", [])
        return body(exc.status_code, str(exc.detail), [])

    return {BatonError: on_baton_error, HTTPException: on_http_error}
