"""Operations: task queues and their workers, webhook deliveries, keys and applications, the audit log, charts."""

from __future__ import annotations

from starlette.routing import Route

from baton.model.access import Permission

RULES: dict[str, Permission] = {}

routes: list[Route] = []
