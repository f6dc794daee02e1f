"""The dashboard's session: a cookie holding a token made from the access key a person logged in with.

The token is one ``POST /api/token`` would give (a JWT signed with the server's secret, naming the key and
its expiry), so the cookie is signed and expires with it, and a revoked key stops working at once, as its
tokens do. ``SessionCredentials`` hands the cookie to the surface's guard as the request's credential when the
request carries none of its own. A form or action sent with the cookie must carry the CSRF token of that
session (an HMAC of the session's token, which a page of another site cannot read); a request carrying its own
credentials in a header cannot be forged by a browser and needs none.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

COOKIE = "baton_session"
COOKIE_PATH = "/ui"
RUNS_PAGE = f"{COOKIE_PATH}/runs"
SESSION_SCOPE_KEY = "baton.dashboard_session"
"""Where ``SessionCredentials`` leaves the session's token for the request: set only when the cookie is used."""
CSRF_FIELD = "csrf"
_CREDENTIAL_HEADERS = (b"authorization", b"x-authorization")


def _cookie(scope: Scope) -> str | None:
    for name, raw in scope["headers"]:
        if name == b"cookie":
            for part in raw.decode("latin-1").split(";"):
                key, _, value = part.strip().partition("=")
                if key == COOKIE and value:
                    return str(value)
    return None


class SessionCredentials:
    """Around the dashboard's Mount: a request with the session cookie and no credential header carries the
    cookie's token as ``X-Authorization``, so the guard checks it like any other token."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            token = _cookie(scope)
            has_own = any(name in _CREDENTIAL_HEADERS for name, _ in scope["headers"])
            if token is not None and not has_own:
                scope = {**scope, SESSION_SCOPE_KEY: token}
                scope["headers"] = [*scope["headers"], (b"x-authorization", token.encode("latin-1"))]
        await self._app(scope, receive, send)


def session_token(request: Request) -> str | None:
    token = request.scope.get(SESSION_SCOPE_KEY)
    return token if isinstance(token, str) else None


def csrf_token(request: Request) -> str:
    """The token a form of this session carries; empty without a session (a header's key or auth off)."""
    token = session_token(request)
    if token is None:
        return ""
    return hmac.new(token.encode(), b"baton-dashboard-csrf", hashlib.sha256).hexdigest()


def set_session(response: Response, token: str, max_age: int, *, secure: bool) -> None:
    """``secure`` when the login came over HTTPS: the browser then never sends the cookie in the clear."""
    response.set_cookie(
        COOKIE, token, max_age=max_age, path=COOKIE_PATH, httponly=True, samesite="strict", secure=secure
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict")
