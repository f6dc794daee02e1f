"""Who may call each of Elsa's routes (``/elsa/api``); refusals in Elsa's error body (401, 403)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Scope

from baton.api.access import SurfaceAccess
from baton.api.elsa.errors import error_body
from baton.errors import AuthenticationError, BatonError
from baton.model.access import Permission

P = Permission

RULES: dict[str, Permission] = {
    "POST /identity/login": P.PUBLIC,
    "POST /workflow-definitions/{definition_id}/execute": P.START,
    "GET /workflow-definitions/{definition_id}/execute": P.START,
    "POST /workflow-definitions/{definition_id}/dispatch": P.START,
    "GET /workflow-instances": P.READ,
    "POST /workflow-instances": P.READ,
    "GET /workflow-instances/{instance_id}": P.READ,
    "POST /cancel/workflow-instances/{instance_id}": P.CONTROL,
    "POST /bulk-actions/cancel/workflow-instances": P.CONTROL,
    "POST /bulk-actions/cancel/workflow-instances/": P.CONTROL,
    "POST /events/{event_name}/trigger": P.START,
}


def refusal(scope: Scope, exc: BatonError) -> Response:
    return error_body(401 if isinstance(exc, AuthenticationError) else 403, exc.message, [])


access = SurfaceAccess(RULES, refusal)
