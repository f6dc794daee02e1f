"""The HTTP triggers' one route is open: a step with ``authorize: true`` asks the trigger service for a principal
that may START (``service/http_triggers.py``), which the guard sets when the request carries a good key or token."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Scope

from baton.api.access import SurfaceAccess
from baton.api.triggers.errors import error_body
from baton.errors import AuthenticationError, BatonError
from baton.model.access import Permission

RULES: dict[str, Permission] = {
    f"{method} /{{path:path}}": Permission.PUBLIC for method in ("DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT")
}


def refusal(scope: Scope, exc: BatonError) -> Response:
    return error_body(401 if isinstance(exc, AuthenticationError) else 403, exc.message, [])


access = SurfaceAccess(RULES, refusal)
