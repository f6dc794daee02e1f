"""Elsa 3's workflow API, mounted at ``/elsa/api``: its routes (relative to the mount) and its error body.

Execute and dispatch start runs of a definition (the workflow's name); the instances are the
runs, under the same ids Conductor's routes read; events resume the runs that wait for them and
start those whose first step does. The mapping is in ``states.py`` and ``docs/design.md``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from baton.api.elsa import definitions, events, identity, instances
from baton.api.elsa.access import access
from baton.api.elsa.errors import error_body, exception_handlers

__all__ = ["access", "error_body", "exception_handlers", "routes"]

routes: list[BaseRoute] = [
    *identity.routes,
    Route("/workflow-definitions/{definition_id}/execute", definitions.execute_post, methods=["POST"]),
    Route("/workflow-definitions/{definition_id}/execute", definitions.execute_get, methods=["GET"]),
    Route("/workflow-definitions/{definition_id}/dispatch", definitions.dispatch, methods=["POST"]),
    Route("/workflow-instances", instances.list_get, methods=["GET"]),
    Route("/workflow-instances", instances.list_post, methods=["POST"]),
    Route("/workflow-instances/{instance_id}", instances.get_one, methods=["GET"]),
    Route("/cancel/workflow-instances/{instance_id}", instances.cancel, methods=["POST"]),
    Route("/bulk-actions/cancel/workflow-instances", instances.bulk_cancel, methods=["POST"]),
    Route("/bulk-actions/cancel/workflow-instances/", instances.bulk_cancel, methods=["POST"]),
    Route("/events/{event_name}/trigger", events.trigger, methods=["POST"]),
]
