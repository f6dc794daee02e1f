"""The dashboard's own pages: the way in (``/`` and ``/ui``), logging in and out, and the static files.

Each area of the dashboard is a module with its ``routes`` and its ``RULES`` (who may open what), composed in
``__init__.py`` and ``access.py``: ``runs.py`` (the list), ``run.py`` (a run and its actions), ``starting.py``,
``definitions.py``, ``cases.py`` and ``operations.py``. Every page reads through the service
(``api.state.service``), as the APIs do; a bad filter or form is a 400 page naming the field.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from baton.api.dashboard.forms import check_csrf, read_form, required
from baton.api.dashboard.session import COOKIE_PATH, RUNS_PAGE, clear_session, set_session
from baton.api.dashboard.templating import page
from baton.api.state import service
from baton.errors import AuthenticationError, FieldError, NotFoundError, PermissionDeniedError, ValidationError
from baton.model.access import Permission, Principal

STATIC = Path(__file__).parent / "static"
_STATIC_FILES = {path.name: path for path in STATIC.iterdir() if path.is_file()}
_MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript", ".txt": "text/plain"}


async def home(request: Request) -> Response:
    """``GET /`` and ``GET /ui``: the dashboard's runs list."""
    return RedirectResponse(RUNS_PAGE, status_code=307)


def _safe_next(raw: str) -> str:
    """Where to go after logging in: a page of the dashboard only, never another site."""
    return raw if raw.startswith(f"{COOKIE_PATH}/") and not raw.startswith("//") and "\\" not in raw else RUNS_PAGE


def _landing(principal: Principal, next_page: str) -> str:
    """Where a login lands: the page asked for, or, for a key that may not read runs (a REVIEWER), its cases."""
    if next_page == RUNS_PAGE and not principal.may(Permission.READ) and principal.may(Permission.CASE_READ):
        return f"{COOKIE_PATH}/cases"
    return next_page


async def login_form(request: Request) -> Response:
    next_page = _safe_next(request.query_params.get("next", RUNS_PAGE))
    return page(request, "login.html", message="", next=next_page, key_id="")


async def login(request: Request) -> Response:
    """The key's id and secret for a session cookie holding a token made from them (``session.py``)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        # A form of another site would log the browser in as a key of that site's choosing.
        raise PermissionDeniedError(f"A login is sent from the dashboard's own pages, not from {origin[:100]}")
    form = await read_form(request)
    next_page = _safe_next(form.get("next", RUNS_PAGE))
    baton = service(request)
    settings = baton.context.settings
    if not settings.auth:
        return RedirectResponse(next_page, status_code=303)
    errors: list[FieldError] = []
    key_id = required(form, "keyId", errors)
    secret = required(form, "keySecret", errors)
    if errors:
        raise ValidationError(errors=errors)
    try:
        token = await baton.access.authenticator.issue_token(key_id, secret)
    except AuthenticationError:
        return page(
            request, "login.html", status_code=401, message="Wrong key id or secret", next=next_page, key_id=key_id
        )
    principal = await baton.access.authenticator.by_token(token)
    response = RedirectResponse(_landing(principal, next_page), status_code=303)
    set_session(response, token, settings.token_lifetime_seconds, secure=request.url.scheme == "https")
    return response


async def logout(request: Request) -> Response:
    await check_csrf(request)
    response = RedirectResponse(f"{COOKIE_PATH}/login", status_code=303)
    clear_session(response)
    return response


async def static_file(request: Request) -> Response:
    path = _STATIC_FILES.get(request.path_params["name"])
    if path is None:
        raise NotFoundError(f"No dashboard file {request.path_params['name']}")
    media_type = _MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media_type, headers={"cache-control": "public, max-age=3600"})


RULES: dict[str, Permission] = {
    "GET /login": Permission.PUBLIC,
    "POST /login": Permission.PUBLIC,
    "POST /logout": Permission.PUBLIC,
    "GET /static/{name}": Permission.PUBLIC,
}

routes = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/static/{name}", static_file, methods=["GET"]),
]
