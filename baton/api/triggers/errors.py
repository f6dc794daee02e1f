"""The triggers' error body, Elsa's ``{"message": ...}``, and its handlers."""

from __future__ import annotations

from starlette.responses import Response

from baton.api import errors
from baton.api.responses import JSONResponse
from baton.errors import FieldError


def error_body(status_code: int, message: str, fields: list[FieldError]) -> Response:
    return JSONResponse({"message": message}, status_code=status_code)


exception_handlers = errors.exception_handlers(error_body)
