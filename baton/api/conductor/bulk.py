"""``/api/workflow/bulk``: pause, resume, restart, retry and terminate many runs; the body is a JSON list of ids.

Each answers Conductor's ``BulkResponse``: the ids the operation succeeded on, and
the error message of each one it failed on. The single-run routes
(``/api/workflow/{id}/retry``) leave ``bulk`` to these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.params import bool_param, string_list_body
from baton.api.responses import JSONResponse
from baton.api.state import service


async def _bulk(request: Request, operation: Callable[[str], Awaitable[object]]) -> Response:
    return JSONResponse(await service(request).operations.bulk(await _workflow_ids(request), operation))


async def _workflow_ids(request: Request) -> list[str]:
    return await string_list_body(request, "workflow id")


async def pause(request: Request) -> Response:
    return await _bulk(request, service(request).operations.pause)


async def resume(request: Request) -> Response:
    return await _bulk(request, service(request).operations.resume)


async def restart(request: Request) -> Response:
    operations = service(request).operations
    latest = bool_param(request, "useLatestDefinitions", False)

    async def restart_one(workflow_id: str) -> None:
        await operations.restart(workflow_id, use_latest_definitions=latest)

    return await _bulk(request, restart_one)


async def retry(request: Request) -> Response:
    return await _bulk(request, service(request).operations.retry)


async def terminate(request: Request) -> Response:
    runs = service(request).runs
    reason = request.query_params.get("reason")

    async def terminate_one(workflow_id: str) -> None:
        await runs.terminate(workflow_id, reason)

    return await _bulk(request, terminate_one)


routes = [
    Route("/workflow/bulk/pause", pause, methods=["PUT"]),
    Route("/workflow/bulk/resume", resume, methods=["PUT"]),
    Route("/workflow/bulk/restart", restart, methods=["POST"]),
    Route("/workflow/bulk/retry", retry, methods=["POST"]),
    Route("/workflow/bulk/terminate", terminate, methods=["POST"]),
]
