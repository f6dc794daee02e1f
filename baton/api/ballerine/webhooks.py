"""Ballerine-style outgoing webhooks under ``/api/v1``: server-wide subscriptions, deliveries, redelivery.

``routes`` are relative to ``/api/v1``. A subscription's ``secret`` is never sent back (``hasSecret`` says
whether it has one). They are part of Ballerine's surface (``api/ballerine/__init__.py``), whose error body
they answer in.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.params import int_param, json_body
from baton.api.responses import JSONResponse, no_content
from baton.api.routing import NarrowedRoute
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.model.webhooks import DeliveryStatus, Webhook
from baton.service.webhooks import MAX_LIST


def _shown(webhook: Webhook) -> dict[str, Any]:
    return {
        "id": webhook.id,
        "url": webhook.url,
        "events": webhook.events,
        "enabled": webhook.enabled,
        "hasSecret": webhook.secret is not None,
        "createdAt": webhook.created_at,
        "updatedAt": webhook.updated_at,
    }


async def list_webhooks(request: Request) -> Response:
    return JSONResponse([_shown(w) for w in await service(request).webhooks.list_webhooks()])


async def create_webhook(request: Request) -> Response:
    webhook = await service(request).webhooks.create_webhook(await json_body(request))
    return JSONResponse(_shown(webhook), status_code=201)


async def get_webhook(request: Request) -> Response:
    return JSONResponse(_shown(await service(request).webhooks.get_webhook(request.path_params["webhook_id"])))


async def replace_webhook(request: Request) -> Response:
    webhook_id = request.path_params["webhook_id"]
    webhook = await service(request).webhooks.replace_webhook(webhook_id, await json_body(request))
    return JSONResponse(_shown(webhook))


async def delete_webhook(request: Request) -> Response:
    await service(request).webhooks.delete_webhook(request.path_params["webhook_id"])
    return no_content()


async def list_deliveries(request: Request) -> Response:
    raw_status = request.query_params.get("status")
    status: DeliveryStatus | None = None
    if raw_status:
        try:
            status = DeliveryStatus(raw_status)
        except ValueError:
            allowed = ", ".join(s.value for s in DeliveryStatus)
            raise ValidationError(
                errors=[FieldError("status", f"must be one of {allowed}, not {raw_status!r}")]
            ) from None
    workflow_id = request.query_params.get("workflowRuntimeId") or None
    limit = int_param(request, "limit", 100, minimum=1, maximum=MAX_LIST)
    found = await service(request).webhooks.deliveries(status=status, workflow_id=workflow_id, limit=limit)
    return JSONResponse(found)


async def get_delivery(request: Request) -> Response:
    return JSONResponse(await service(request).webhooks.delivery(request.path_params["delivery_id"]))


async def redeliver(request: Request) -> Response:
    return JSONResponse(await service(request).webhooks.redeliver(request.path_params["delivery_id"]))


_BESIDE_DELIVERIES = {"webhook_id": ("deliveries",)}

routes = [
    Route("/webhooks", list_webhooks, methods=["GET"]),
    Route("/webhooks", create_webhook, methods=["POST"]),
    Route("/webhooks/deliveries", list_deliveries, methods=["GET"]),
    Route("/webhooks/deliveries/{delivery_id}", get_delivery, methods=["GET"]),
    Route("/webhooks/deliveries/{delivery_id}/redeliver", redeliver, methods=["POST"]),
    NarrowedRoute("/webhooks/{webhook_id}", get_webhook, methods=["GET"], reserved=_BESIDE_DELIVERIES),
    NarrowedRoute("/webhooks/{webhook_id}", replace_webhook, methods=["PUT"], reserved=_BESIDE_DELIVERIES),
    NarrowedRoute("/webhooks/{webhook_id}", delete_webhook, methods=["DELETE"], reserved=_BESIDE_DELIVERIES),
]
