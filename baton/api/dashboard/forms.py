"""A page's form as sent (``application/x-www-form-urlencoded``), read once a request; the CSRF check on it."""

from __future__ import annotations

import hmac
from urllib.parse import parse_qsl

from starlette.requests import Request

from baton.api.dashboard.session import CSRF_FIELD, csrf_token, session_token
from baton.errors import FieldError, PermissionDeniedError, ValidationError

_FORM_STATE = "dashboard_form"


async def read_form(request: Request) -> dict[str, str]:
    """The fields of a form (the last value of a repeated one); empty for a body of another type."""
    cached = getattr(request.state, _FORM_STATE, None)
    if isinstance(cached, dict):
        return cached
    form: dict[str, str] = {}
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        try:
            text = (await request.body()).decode()
        except UnicodeDecodeError:
            raise ValidationError(errors=[FieldError("body", "is not UTF-8")]) from None
        form = dict(parse_qsl(text, keep_blank_values=True))
    setattr(request.state, _FORM_STATE, form)
    return form


async def check_csrf(request: Request) -> None:
    """PermissionDeniedError unless a request sent with the session cookie carries the session's CSRF token."""
    if session_token(request) is None:
        return
    sent = (await read_form(request)).get(CSRF_FIELD, "")
    if not hmac.compare_digest(sent.encode(), csrf_token(request).encode()):
        raise PermissionDeniedError("The form's CSRF token is missing or wrong: reload the page and try again")


def required(form: dict[str, str], name: str, errors: list[FieldError]) -> str:
    value = form.get(name, "").strip()
    if not value:
        errors.append(FieldError(name, "is required"))
    return value
