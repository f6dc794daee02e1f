"""Ballerine's external API (``/api/v1/external/workflows``): start a run about an entity, read it, its context,
and send it an event."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from baton.api.ballerine.views import runtime_view
from baton.api.params import json_body
from baton.api.responses import JSONResponse
from baton.api.routing import NarrowedRoute
from baton.api.state import service
from baton.errors import FieldError, ValidationError


async def object_body(request: Request) -> dict[str, Any]:
    """The JSON body, an object (an empty body is ``{}``)."""
    body = await json_body(request, empty={})
    if not isinstance(body, dict):
        raise ValidationError(errors=[FieldError("body", "must be a JSON object")])
    return body


async def run(request: Request) -> Response:
    body = await object_body(request)
    started = await service(request).entities.run(body.get("workflowId"), body.get("context"), body.get("config"))
    return JSONResponse(
        {
            "workflowDefinitionId": started.workflow_name,
            "workflowRuntimeId": started.workflow_id,
            "ballerineEntityId": started.entity.entity_id,
            "entities": started.entities,
        }
    )


async def get_runtime(request: Request) -> Response:
    runtime = await service(request).entities.runtime(request.path_params["workflow_id"])
    return JSONResponse(runtime_view(runtime))


async def get_context(request: Request) -> Response:
    runtime = await service(request).entities.runtime(request.path_params["workflow_id"])
    return JSONResponse({"context": runtime.context})


async def send_event(request: Request) -> Response:
    body = await object_body(request)
    workflow_id = request.path_params["workflow_id"]
    runtime = await service(request).entities.event(workflow_id, body.get("name"), body.get("payload"))
    return JSONResponse(runtime_view(runtime))


async def send_case_event(request: Request) -> Response:
    """The back office's event on a case: a REVIEWER key sends it only to cases of its queues."""
    await service(request).cases.check_may_decide(request.path_params["workflow_id"])
    return await send_event(request)


routes: list[BaseRoute] = [
    Route("/external/workflows/run", run, methods=["POST"]),
    NarrowedRoute("/external/workflows/{workflow_id}", get_runtime, methods=["GET"], reserved={"workflow_id": ["run"]}),
    Route("/external/workflows/{workflow_id}/context", get_context, methods=["GET"]),
    Route("/external/workflows/{workflow_id}/event", send_event, methods=["POST"]),
    Route("/external/workflows/{workflow_id}/send-event", send_event, methods=["POST"]),
    # The back office sends a case's events on its own path too.
    Route("/internal/workflows/{workflow_id}/event", send_case_event, methods=["POST"]),
]
