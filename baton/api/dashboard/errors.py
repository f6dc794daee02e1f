"""The dashboard's error answer: a page saying what went wrong and, for a bad form, which field."""

from __future__ import annotations

from starlette.responses import Response

from baton.api import errors
from baton.api.dashboard.templating import page
from baton.errors import FieldError


def error_body(status_code: int, message: str, fields: list[FieldError]) -> Response:
    return page(None, "error.html", status_code=status_code, status=status_code, message=message, fields=fields)


exception_handlers = errors.exception_handlers(error_body)
