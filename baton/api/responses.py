"""Rendering shared by every surface: model structs as JSON answers, plain text, and the shape of an error body."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.responses import Response

from baton.errors import FieldError
from baton.model.codec import encode

ErrorBody = Callable[[int, str, list[FieldError]], Response]
"""A surface's error answer from its status, message and the fields at fault (``api/errors.py`` maps exceptions)."""


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return encode(content)


def text(value: str, status_code: int = 200) -> Response:
    return Response(value, status_code=status_code, media_type="text/plain")


def no_content() -> Response:
    return Response(status_code=204)
