"""``/api/secrets``: secrets by name, in Orkes Conductor's shape (its clients' ``SecretClient``). No route answers a
value.

``PUT /secrets/{name}`` stores a value: a body that is a JSON string (what Orkes's Java and JavaScript clients
send) is that string; any other body is its text as it is, whatever its ``Content-Type`` (conductor-python sends
the value unquoted; a service account's JSON key is stored as its text). An empty body or an empty string is a
400 naming ``body``. It answers 200 with no body. ``GET /secrets`` lists the names (so does
``POST /secrets``, Orkes's ``listAllSecretNames``), ``GET /secrets/{name}/exists`` answers ``true`` or
``false``, ``DELETE /secrets/{name}`` removes one (404 when there is none). Orkes's ``GET /secrets/{name}``,
which answers the value, is not served. A server without ``BATON_SECRETS_KEY`` answers every route 503.
"""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.responses import JSONResponse
from baton.api.state import service
from baton.errors import FieldError, ValidationError


async def put_secret(request: Request) -> Response:
    await service(request).secrets.put(request.path_params["name"], secret_value(await request.body()))
    return Response(status_code=200)


def secret_value(body: bytes) -> str:
    """The value a PUT's body gives: a JSON string decoded, any other body's text as it is."""
    try:
        text = body.decode()
    except UnicodeDecodeError:
        raise ValidationError(errors=[FieldError("body", "must be UTF-8 text")]) from None
    if text.strip().startswith('"'):
        try:
            decoded = msgspec.json.decode(text)
        except msgspec.DecodeError:
            return text
        if isinstance(decoded, str):
            return decoded
    return text


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
