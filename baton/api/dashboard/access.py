"""Who may open each dashboard page and send each action. A refusal is a page: with no (or a bad) session, the
login form itself (401), so a person who opens any page is asked to log in and comes back to it; with a key
lacking the role, a page naming it (403)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Scope

from baton.api.access import SurfaceAccess
from baton.api.dashboard.session import COOKIE_PATH, SESSION_SCOPE_KEY, clear_session
from baton.api.dashboard.templating import page
from baton.errors import AuthenticationError, BatonError
from baton.model.access import Permission
from baton.service.access_tokens import MISSING_CREDENTIALS

P = Permission

ACTIONS = ("terminate", "pause", "resume", "retry", "restart")
"""What the run page's buttons do, each a ``POST /runs/{workflow_id}/<action>``."""

RULES: dict[str, Permission] = {
    "GET /login": P.PUBLIC,
    "POST /login": P.PUBLIC,
    "POST /logout": P.PUBLIC,
    "GET /static/{name}": P.PUBLIC,
    "GET /runs": P.READ,
    "GET /runs/{workflow_id}": P.READ,
    **{f"POST /runs/{{workflow_id}}/{action}": P.CONTROL for action in ACTIONS},
    "GET /start": P.START,
    "GET /start/{name}": P.START,
    "POST /start/{name}": P.START,
}


def refusal(scope: Scope, exc: BatonError) -> Response:
    if isinstance(exc, AuthenticationError):
        # Rendered for a person: the login form, asking again, and the stale cookie dropped.
        wanted = scope["path"] if scope["method"] == "GET" else f"{COOKIE_PATH}/runs"
        if SESSION_SCOPE_KEY in scope:
            message = "Your session has ended (expired, or its key was revoked): log in again."
        else:
            message = "" if exc.code == MISSING_CREDENTIALS else exc.message
        response = page(None, "login.html", status_code=401, message=message, next=wanted, key_id="")
        clear_session(response)
        return response
    return page(None, "error.html", status_code=403, status=403, message=exc.message, fields=[])


access = SurfaceAccess(RULES, refusal)
