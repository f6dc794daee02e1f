"""Routing shared by the surfaces: a surface's Mount, and a route that leaves its siblings' words alone.

``Surface`` mounts a surface's routes under its prefix with its own exception
handlers, so its errors answer in its shape. ``NarrowedRoute``: Starlette tries routes in
order and takes the first that matches; where a literal segment and a parameter meet
(``/workflow/search`` and ``/workflow/{workflow_id}``), the parameterised route names
the words it never takes, so each path has one route whatever the order.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import BaseRoute, Match, Mount, Route
from starlette.types import ExceptionHandler, Scope


class Surface(Mount):
    """The routes of one surface under ``prefix``, their errors answered by ``exception_handlers``.

    The prefix alone (``/api``, ``/api/``) is not the surface's: the root answers it (a 404),
    where a plain Mount would redirect ``/api`` to ``/api/``. ``middleware`` runs inside the exception handlers
    (outermost first), so what it raises is answered in the surface's shape too.
    """

    def __init__(
        self,
        prefix: str,
        routes: Sequence[BaseRoute],
        exception_handlers: Mapping[Any, ExceptionHandler],
        middleware: Sequence[Middleware] = (),
    ) -> None:
        super().__init__(
            prefix,
            routes=routes,
            middleware=[Middleware(ExceptionMiddleware, handlers=exception_handlers), *middleware],
        )

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child_scope = super().matches(scope)
        if match is not Match.NONE and scope["path"] == child_scope["root_path"] + "/":
            return Match.NONE, {}
        return match, child_scope


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
