"""Rendering a page: the Jinja2 environment over ``templates/`` (autoescaped), and what every page is given."""

from __future__ import annotations

import functools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse

from baton.api.dashboard.session import CSRF_FIELD, csrf_token
from baton.model.access import UNAUTHENTICATED_ADMIN, Permission, Principal
from baton.service.acting import current_principal

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = Path(__file__).parent / "templates"


def _when(epoch_ms: int) -> str:
    if not epoch_ms:
        return ""
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _duration(start_ms: int, end_ms: int) -> str:
    if not start_ms or not end_ms or end_ms < start_ms:
        return ""
    seconds = (end_ms - start_ms) / 1000
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@functools.cache
def environment() -> Environment:
    """Made with the first page: a server that never shows one (an API's, a test's) does not import Jinja2."""
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    made = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    made.filters["when"] = _when
    made.filters["pretty"] = _pretty
    made.globals["duration"] = _duration
    return made


def may(principal: Principal | None, permission: Permission) -> bool:
    return principal is not None and principal.may(permission)


def page(request: Request | None, template: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    """``template`` rendered with the acting principal, what it may do (``may_do("CASE_DECIDE")``), whether auth
    is off and the CSRF field."""
    principal = current_principal()
    html = (
        environment()
        .get_template(template)
        .render(
            principal=principal,
            auth_off=principal is UNAUTHENTICATED_ADMIN,
            may_control=may(principal, Permission.CONTROL),
            may_start=may(principal, Permission.START),
            may_do=lambda name: may(principal, Permission[name]),
            csrf_field=CSRF_FIELD,
            csrf=csrf_token(request) if request is not None else "",
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status_code)
    response.headers["cache-control"] = "no-store"
    response.headers["x-frame-options"] = "DENY"
    response.headers["content-security-policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    )
    return response
