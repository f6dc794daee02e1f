"""Conductor's REST API, mounted at ``/api``: its routes (paths relative to the mount) and its error body.

Which route serves a path never depends on the order of ``routes``: where a literal
segment meets a parameter, the parameterised route leaves the word to the literal one
(``api/routing.py``). The order only decides how soon a route is found, so the worker
API comes first, then the starts.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from baton.api.conductor import (
    applications,
    audit,
    bulk,
    events,
    metadata,
    search,
    secrets,
    tasks,
    testing,
    workflows,
)
from baton.api.conductor.access import access
from baton.api.conductor.errors import error_body, exception_handlers

__all__ = ["access", "error_body", "exception_handlers", "routes"]

routes: list[BaseRoute] = [
    *tasks.worker_routes,
    *workflows.start_routes,
    *testing.routes,
    *metadata.routes,
    *events.routes,
    *audit.routes,
    *secrets.routes,
    *search.routes,
    *bulk.routes,
    *workflows.routes,
    *tasks.routes,
    *applications.routes,
]
