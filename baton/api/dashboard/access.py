"""Who may open each dashboard page and send each action. A refusal is a page: with no (or a bad) session, the
login form itself (401), so a person who opens any page is asked to log in and comes back to it; with a key
lacking the role, a page naming it (403)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Scope

from baton.api.access import SurfaceAccess
from baton.api.dashboard import cases, definitions, operations, pages, run, runs, starting
from baton.api.dashboard.session import RUNS_PAGE, SESSION_SCOPE_KEY, clear_session
from baton.api.dashboard.templating import page
from baton.errors import AuthenticationError, BatonError
from baton.model.access import Permission
from baton.service.access_tokens import MISSING_CREDENTIALS


def refusal(scope: Scope, exc: BatonError) -> Response:
    if isinstance(exc, AuthenticationError):
        # Rendered for a person: the login form, asking again, and the stale cookie dropped.
        wanted = scope["path"] if scope["method"] == "GET" else RUNS_PAGE
        if SESSION_SCOPE_KEY in scope:
            message = "Your session has ended (expired, or its key was revoked): log in again."
        else:
            message = "" if exc.code == MISSING_CREDENTIALS else exc.message
        response = page(None, "login.html", status_code=401, message=message, next=wanted, key_id="")
        clear_session(response)
        return response
    return page(None, "error.html", status_code=403, status=403, message=exc.message, fields=[])


RULES: dict[str, Permission] = {
    **pages.RULES,
    **runs.RULES,
    **run.RULES,
    **starting.RULES,
    **definitions.RULES,
    **cases.RULES,
    **operations.RULES,
}
"""Each area's rules, from its module beside its routes."""

access = SurfaceAccess(RULES, refusal)
