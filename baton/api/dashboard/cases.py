"""Cases: queues with counts, a queue's cases, a case's page and the reviewer's decisions, a case added by hand."""

from __future__ import annotations

from starlette.routing import Route

from baton.model.access import Permission

RULES: dict[str, Permission] = {}

routes: list[Route] = []
