"""The service a route works with: put on the app by ``server.py``'s lifespan, read by every route."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request

from baton.service import Baton


def install(app: Starlette, baton: Baton) -> None:
    app.state.baton = baton


def service(request: Request) -> Baton:
    baton: Baton = request.app.state.baton
    return baton
