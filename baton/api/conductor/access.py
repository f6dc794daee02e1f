"""Who may call each of Conductor's routes (``/api``), and its refusals in its error body: a 401 adds ``"error":
"EXPIRED_TOKEN" | "INVALID_TOKEN" | "MISSING_CREDENTIALS"``, which Conductor's clients read to refresh their token;
a 403 names the role lacking."""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Scope

from baton.api.access import SurfaceAccess
from baton.api.conductor.errors import error_body, error_content
from baton.api.responses import JSONResponse
from baton.errors import AuthenticationError, BatonError
from baton.model.access import Permission

P = Permission

RULES: dict[str, Permission] = {
    "POST /token": P.PUBLIC,
    "GET /token/userInfo": P.PUBLIC,
    # applications and their keys
    "GET /applications": P.MANAGE,
    "POST /applications": P.MANAGE,
    "GET /applications/key/{keyId}": P.MANAGE,
    "GET /applications/{id}": P.MANAGE,
    "PUT /applications/{id}": P.MANAGE,
    "DELETE /applications/{id}": P.MANAGE,
    "POST /applications/{applicationId}/roles/{role}": P.MANAGE,
    "DELETE /applications/{applicationId}/roles/{role}": P.MANAGE,
    "GET /applications/{id}/accessKeys": P.MANAGE,
    "POST /applications/{id}/accessKeys": P.MANAGE,
    "DELETE /applications/{applicationId}/accessKeys/{keyId}": P.MANAGE,
    "POST /applications/{applicationId}/accessKeys/{keyId}/status": P.MANAGE,
    "GET /audit": P.MANAGE,
    "GET /secrets": P.MANAGE,
    "POST /secrets": P.MANAGE,
    "PUT /secrets/{name}": P.MANAGE,
    "DELETE /secrets/{name}": P.MANAGE,
    "GET /secrets/{name}/exists": P.MANAGE,
    # the worker API
    "GET /tasks/poll/{task_type}": P.WORK,
    "GET /tasks/poll/batch/{task_type}": P.WORK,
    "POST /tasks": P.WORK,
    "POST /tasks/update-v2": P.WORK,
    "POST /tasks/{workflow_id}/{ref}/{status}": P.WORK,
    "POST /tasks/{workflow_id}/{ref}/{status}/sync": P.WORK,
    "POST /tasks/{task_id}/log": P.WORK,
    "GET /tasks/{task_id}/log": P.READ,
    "GET /tasks/{task_id}": P.READ,
    "GET /tasks/queue/sizes": P.READ,
    "GET /tasks/queue/polldata": P.READ,
    "GET /tasks/queue/polldata/all": P.READ,
    "GET /tasks/search": P.READ,
    "GET /tasks/search-v2": P.READ,
    # starts
    "POST /workflow": P.START,
    "POST /workflow/{name}": P.START,
    "POST /workflow/execute/{name}": P.START,
    "POST /workflow/execute/{name}/{version:int}": P.START,
    "POST /workflow/test": P.START,
    # definitions and event handlers
    "GET /metadata/workflow": P.READ,
    "GET /metadata/workflow/{name}": P.READ,
    "POST /metadata/workflow": P.DEFINE,
    "PUT /metadata/workflow": P.DEFINE,
    "DELETE /metadata/workflow/{name}/{version:int}": P.DEFINE,
    "GET /metadata/taskdefs": P.READ,
    "GET /metadata/taskdefs/{name}": P.READ,
    "POST /metadata/taskdefs": P.DEFINE,
    "PUT /metadata/taskdefs": P.DEFINE,
    "DELETE /metadata/taskdefs/{name}": P.DEFINE,
    "GET /event": P.READ,
    "GET /event/{event}": P.READ,
    "POST /event": P.DEFINE,
    "PUT /event": P.DEFINE,
    "DELETE /event/{name}": P.DEFINE,
    # reading runs
    "GET /workflow/search": P.READ,
    "GET /workflow/search-v2": P.READ,
    "GET /workflow/running/{name}": P.READ,
    "GET /workflow/{name}/correlated/{correlation_id}": P.READ,
    "POST /workflow/{name}/correlated": P.READ,
    "GET /workflow/{workflow_id}": P.READ,
    "GET /workflow/{workflow_id}/status": P.READ,
    "GET /workflow/{workflow_id}/tasks": P.READ,
    # changing runs
    "PUT /workflow/bulk/pause": P.CONTROL,
    "PUT /workflow/bulk/resume": P.CONTROL,
    "POST /workflow/bulk/restart": P.CONTROL,
    "POST /workflow/bulk/retry": P.CONTROL,
    "POST /workflow/bulk/terminate": P.CONTROL,
    "PUT /workflow/decide/{workflow_id}": P.CONTROL,
    "PUT /workflow/{workflow_id}/pause": P.CONTROL,
    "PUT /workflow/{workflow_id}/resume": P.CONTROL,
    "POST /workflow/{workflow_id}/restart": P.CONTROL,
    "POST /workflow/{workflow_id}/retry": P.CONTROL,
    "POST /workflow/{workflow_id}/rerun": P.CONTROL,
    "PUT /workflow/{workflow_id}/skiptask/{ref}": P.CONTROL,
    "POST /workflow/{workflow_id}/variables": P.CONTROL,
    "DELETE /workflow/{workflow_id}": P.CONTROL,
    "DELETE /workflow/{workflow_id}/remove": P.CONTROL,
}


def refusal(scope: Scope, exc: BatonError) -> Response:
    if isinstance(exc, AuthenticationError):
        return JSONResponse({**error_content(401, exc.message, []), "error": exc.code}, status_code=401)
    return error_body(403, exc.message, [])


access = SurfaceAccess(RULES, refusal)
