"""Who may call each of Ballerine's routes (``/api/v1``): the external API starts and drives runs, the back office
reads and decides cases (a REVIEWER only those of its queues, checked by the case service); refusals in Ballerine's
error body, which names the path."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Scope

from baton.api.access import SurfaceAccess
from baton.api.ballerine.errors import error_body
from baton.errors import AuthenticationError, BatonError
from baton.model.access import Permission

P = Permission

RULES: dict[str, Permission] = {
    "POST /external/workflows/run": P.START,
    "GET /external/workflows/{workflow_id}": P.READ,
    "GET /external/workflows/{workflow_id}/context": P.READ,
    "POST /external/workflows/{workflow_id}/event": P.CONTROL,
    "POST /external/workflows/{workflow_id}/send-event": P.CONTROL,
    "POST /internal/workflows/{workflow_id}/event": P.CASE_DECIDE,
    "GET /internal/workflows": P.CASE_READ,
    "GET /internal/workflows/{workflow_id}": P.CASE_READ,
    "PATCH /internal/workflows/assign/{workflow_id}": P.CASE_DECIDE,
    "PATCH /internal/workflows/{workflow_id}/event-decision": P.CASE_DECIDE,
    "PATCH /internal/workflows/{workflow_id}/decision/{document_id}": P.CASE_DECIDE,
    "GET /filters": P.CASE_READ,
    "POST /filters": P.CASE_DECIDE,
    "GET /filters/{filter_id}": P.CASE_READ,
    "POST /case-management": P.START,
    "GET /webhooks": P.READ,
    "POST /webhooks": P.DEFINE,
    "GET /webhooks/deliveries": P.READ,
    "GET /webhooks/deliveries/{delivery_id}": P.READ,
    "POST /webhooks/deliveries/{delivery_id}/redeliver": P.CONTROL,
    "GET /webhooks/{webhook_id}": P.READ,
    "PUT /webhooks/{webhook_id}": P.DEFINE,
    "DELETE /webhooks/{webhook_id}": P.DEFINE,
}


def refusal(scope: Scope, exc: BatonError) -> Response:
    status = 401 if isinstance(exc, AuthenticationError) else 403
    return error_body(scope["path"])(status, exc.message, [])


access = SurfaceAccess(RULES, refusal)
