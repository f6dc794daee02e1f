"""The errors the clients raise: the server refused a request, or never answered it."""

from __future__ import annotations

from baton.errors import BatonError, FieldError

__all__ = ["BatonApiError", "BatonConnectionError"]


class BatonApiError(BatonError):
    """The server refused the request."""

    def __init__(
        self,
        status_code: int,
        message: str | None = None,
        validation_errors: list[FieldError] | None = None,
        *,
        body: str = "",
    ) -> None:
        self.status_code = status_code
        self.validation_errors = validation_errors or []
        self.body = body
        super().__init__(message or f"HTTP {status_code}")

    def __str__(self) -> str:
        text = f"{self.status_code}: {self.message}"
        if self.validation_errors:
            text += " (" + "; ".join(f"{e.path}: {e.message}" for e in self.validation_errors) + ")"
        return text


class BatonConnectionError(BatonError):
    """The server could not be reached, or did not answer in time."""
