"""Routing shared by the surfaces: a surface's Mount, and a route that leaves its siblings' words alone.

``Surface`` mounts a surface's routes under its prefix with its own exception
handlers, so its errors answer in its shape. ``NarrowedRoute``: Starlette tries routes in
order and takes the first that matches; where a literal segment and a parameter meet
(``/workflow/search`` and ``/workflow/{workflow_id}``), the parameterised route names
the words it never takes, so each path has one route whatever the order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ExceptionHandler, Scope

from baton.api.access import SurfaceAccess, guard


class Surface(Mount):
    """The routes of one surface under ``prefix``, their errors answered by ``exception_handlers``; with ``access``,
    each route behind its access rule (``api/access.py``), a route without one refused here.

    The prefix alone (``/api``, ``/api/``) is not the surface's: the root answers it (a 404),
    where a plain Mount would redirect ``/api`` to ``/api/``. ``route_middleware`` wraps each route's app
    (``around_each``): it runs once the route is chosen, inside the exception handlers, so what it raises is
    answered in the surface's shape too.
    """

    def __init__(
        self,
        prefix: str,
        routes: Sequence[BaseRoute],
        exception_handlers: Mapping[Any, ExceptionHandler],
        *,
        access: SurfaceAccess | None = None,
        auth: bool = True,
        route_middleware: Sequence[Middleware] = (),
    ) -> None:
        # The limits run inside the guard: they see the principal it found.
        routes = around_each(routes, route_middleware)
        if access is not None:
            routes = guard(routes, access, auth=auth)
        super().__init__(
            prefix,
            routes=routes,
            middleware=[Middleware(ExceptionMiddleware, handlers=exception_handlers)],
        )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE and scope["path"] == child_scope["root_path"] + "/":
            return Match.NONE, {}
        return match, child_scope


def around_each(routes: Sequence[BaseRoute], middleware: Sequence[Middleware]) -> list[BaseRoute]:
    """Copies of ``routes`` whose apps run inside ``middleware`` (outermost first)."""
    if not middleware:
        return list(routes)
    wrapped: list[BaseRoute] = []
    for route in routes:
        if not isinstance(route, Route):
            raise TypeError(f"only plain routes can be wrapped, not {route!r}")
        app = route.app
        for cls, args, kwargs in reversed(middleware):
            app = cls(app, *args, **kwargs)
        copied = copy.copy(route)
        copied.app = app
        wrapped.append(copied)
    return wrapped


class NarrowedRoute(Route):
    """A Route whose path parameters never take the words ``reserved`` leaves to the routes beside it."""

    def __init__(
        self,
        path: str,
        endpoint: Callable[..., Any],
        *,
        methods: list[str],
        reserved: Mapping[str, Collection[str]],
    ) -> None:
        """``reserved`` maps a path parameter to the values another route serves at that place."""
        super().__init__(path, endpoint, methods=methods)
        self.reserved = {name: frozenset(words) for name, words in reserved.items()}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE:
            params = child_scope["path_params"]
            if any(params.get(name) in words for name, words in self.reserved.items()):
                return Match.NONE, {}
        return match, child_scope
