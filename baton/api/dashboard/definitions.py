"""Definitions: the list with versions, a definition drawn as a graph, the JSON editor, a diff between versions."""

from __future__ import annotations

from starlette.routing import Route

from baton.model.access import Permission

RULES: dict[str, Permission] = {}

routes: list[Route] = []
