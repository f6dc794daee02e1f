"""``/api/secrets``: secrets by name, in Orkes Conductor's shape (its clients' ``SecretClient``). No route answers a
value.

``PUT /secrets/{name}`` stores a value: the body is the value as a JSON string (what Orkes's clients send), or,
sent as ``text/plain``, the body's text as it is (``curl --data-binary @file -H 'Content-Type: text/plain'``);
any other JSON is a 400 naming ``body``. It answers 200 with no body. ``GET /secrets`` lists the names (so does
``POST /secrets``, Orkes's ``listAllSecretNames``), ``GET /secrets/{name}/exists`` answers ``true`` or
``false``, ``DELETE /secrets/{name}`` removes one (404 when there is none). Orkes's ``GET /secrets/{name}``,
which answers the value, is not served. A server without ``BATON_SECRETS_KEY`` answers every route 503.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.params import json_body
from baton.api.responses import JSONResponse
from baton.api.state import service
from baton.errors import FieldError, ValidationError

_TEXT = "text/plain"


async def put_secret(request: Request) -> Response:
    content_type = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if content_type == _TEXT:
        raw = await request.body()
        try:
            value = raw.decode()
        except UnicodeDecodeError:
            raise ValidationError(errors=[FieldError("body", "must be UTF-8 text")]) from None
    else:
        value = await json_body(request)
        if not isinstance(value, str):
            raise ValidationError(errors=[FieldError("body", "must be the secret's value as a JSON string")])
    await service(request).secrets.put(request.path_params["name"], value)
    return Response(status_code=200)


async def list_names(request: Request) -> Response:
    return JSONResponse(await service(request).secrets.names())


async def secret_exists(request: Request) -> Response:
    return JSONResponse(await service(request).secrets.exists(request.path_params["name"]))


async def delete_secret(request: Request) -> Response:
    await service(request).secrets.delete(request.path_params["name"])
    return Response(status_code=200)


routes = [
    Route("/secrets", list_names, methods=["GET", "POST"]),
    Route("/secrets/{name}", put_secret, methods=["PUT"]),
    Route("/secrets/{name}", delete_secret, methods=["DELETE"]),
    Route("/secrets/{name}/exists", secret_exists, methods=["GET"]),
]
