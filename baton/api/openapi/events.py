"""The document's ``/api/event`` paths: event handlers (create, update, list, list by event, remove)."""

from __future__ import annotations

from baton.api.openapi.spec import BOOLEAN, Paths, answer, array, json_body, operation, path, query, ref

TAG = "event-resource"

_HANDLER = json_body(ref("EventHandler"), "The handler.")
_HANDLERS = answer("The handlers.", array(ref("EventHandler")))
_DONE = answer("Done.")

paths: Paths = {
    "/api/event": {
        "post": operation(
            "addEventHandler", TAG, "Add an event handler", body=_HANDLER, responses={200: _DONE}, errors=[409]
        ),
        "put": operation(
            "updateEventHandler", TAG, "Replace an event handler", body=_HANDLER, responses={200: _DONE}, errors=[404]
        ),
        "get": operation(
            "getEventHandlers",
            TAG,
            "Every event handler",
            parameters=[query("activeOnly", "Only the active ones.", {**BOOLEAN, "default": False})],
            responses={200: _HANDLERS},
        ),
    },
    "/api/event/{event}": {
        "get": operation(
            "getEventHandlersForEvent",
            TAG,
            "The handlers of an event",
            parameters=[
                path("event", "The event."),
                query("activeOnly", "Only the active ones.", {**BOOLEAN, "default": True}),
            ],
            responses={200: _HANDLERS},
        ),
    },
    "/api/event/{name}": {
        "delete": operation(
            "removeEventHandlerStatus",
            TAG,
            "Remove an event handler",
            parameters=[path("name", "The handler's name.")],
            responses={200: _DONE},
        ),
    },
}
