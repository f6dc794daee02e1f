"""Webhook deliveries: the newest ones (the failed ones only, when asked), one delivery's request and the answer
to each attempt, and redelivering it (with confirmation); the server-wide webhooks listed above them.

The same permissions as ``/api/v1/webhooks`` (``api/ballerine/access.py``): reading needs READ, redelivering
CONTROL.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from baton.api.dashboard.forms import check_csrf
from baton.api.dashboard.templating import page
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.model.access import Permission
from baton.model.webhooks import DeliveryStatus

WEBHOOKS_PAGE = "/ui/operations/webhooks"
SHOWN = 50
"""How many of the newest deliveries the list shows."""


def _status_filter(request: Request) -> DeliveryStatus | None:
    raw = request.query_params.get("status", "").strip()
    if not raw:
        return None
    try:
        return DeliveryStatus(raw)
    except ValueError:
        allowed = ", ".join(status.value for status in DeliveryStatus)
        raise ValidationError(errors=[FieldError("status", f"must be one of {allowed}, not {raw[:40]!r}")]) from None


async def webhooks_page(request: Request) -> Response:
    status = _status_filter(request)
    webhooks = service(request).webhooks
    return page(
        request,
        "operations_webhooks.html",
        webhooks=await webhooks.list_webhooks(),
        deliveries=await webhooks.deliveries(status=status, limit=SHOWN),
        status=status.value if status else "",
        statuses=[s.value for s in DeliveryStatus],
    )


def _pretty_body(body: str) -> str:
    try:
        return json.dumps(json.loads(body), indent=2, sort_keys=True)
    except ValueError:
        return body


async def delivery_page(request: Request) -> Response:
    delivery_id = request.path_params["delivery_id"]
    webhooks = service(request).webhooks
    delivery = await webhooks.delivery(delivery_id)
    return page(
        request,
        "operations_delivery.html",
        delivery=delivery,
        body=_pretty_body(await webhooks.delivery_body(delivery_id)),
        redelivered=request.query_params.get("redelivered") == "1",
    )


async def redeliver(request: Request) -> Response:
    await check_csrf(request)
    delivery_id = request.path_params["delivery_id"]
    await service(request).webhooks.redeliver(delivery_id)
    return RedirectResponse(f"{WEBHOOKS_PAGE}/deliveries/{quote(delivery_id, safe='')}?redelivered=1", status_code=303)


RULES: dict[str, Permission] = {
    "GET /operations/webhooks": Permission.READ,
    "GET /operations/webhooks/deliveries/{delivery_id}": Permission.READ,
    "POST /operations/webhooks/deliveries/{delivery_id}/redeliver": Permission.CONTROL,
}

routes = [
    Route("/operations/webhooks", webhooks_page, methods=["GET"]),
    Route("/operations/webhooks/deliveries/{delivery_id}", delivery_page, methods=["GET"]),
    Route("/operations/webhooks/deliveries/{delivery_id}/redeliver", redeliver, methods=["POST"]),
]
