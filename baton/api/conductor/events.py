"""``/api/event``: event handlers (Conductor's EventResource).

POST creates (409 when the name exists), PUT replaces (404 when it does not); both
answer 200 with no body. GET lists every handler (``activeOnly`` false by default),
GET ``/event/{event}`` those listening on one event (``activeOnly`` true by default,
as Conductor's), DELETE ``/event/{name}`` removes one (404 when there is none).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.params import body_as, bool_param
from baton.api.responses import JSONResponse
from baton.api.state import service
from baton.model.events import EventHandler


async def create_handler(request: Request) -> Response:
    await service(request).events.create(await body_as(request, EventHandler))
    return Response(status_code=200)


async def update_handler(request: Request) -> Response:
    await service(request).events.update(await body_as(request, EventHandler))
    return Response(status_code=200)


async def list_handlers(request: Request) -> Response:
    return JSONResponse(await service(request).events.list_all(active_only=bool_param(request, "activeOnly", False)))


async def handlers_for_event(request: Request) -> Response:
    active_only = bool_param(request, "activeOnly", True)
    return JSONResponse(await service(request).events.for_event(request.path_params["event"], active_only=active_only))


async def delete_handler(request: Request) -> Response:
    await service(request).events.delete(request.path_params["name"])
    return Response(status_code=200)


routes = [
    Route("/event", create_handler, methods=["POST"]),
    Route("/event", update_handler, methods=["PUT"]),
    Route("/event", list_handlers, methods=["GET"]),
    Route("/event/{event}", handlers_for_event, methods=["GET"]),
    Route("/event/{name}", delete_handler, methods=["DELETE"]),
]
