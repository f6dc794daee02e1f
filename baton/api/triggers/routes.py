"""One route for every path and method below the base path: the request goes to ``HttpTriggers.serve``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from baton.api.state import service
from baton.model.http_endpoints import ENDPOINT_METHODS
from baton.service.http_triggers import HttpCall


async def serve(request: Request) -> Response:
    route_path = request.path_params["path"]

    async def read_body(limit: int | None) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if limit is not None and size > limit:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    call = HttpCall(
        method=request.method,
        path=request.url.path,
        route_path=route_path,
        headers=[(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in request.scope["headers"]],
        query=list(request.query_params.multi_items()),
    )
    answer = await service(request).http_triggers.serve(call, read_body)
    return Response(answer.body, status_code=answer.status, headers=answer.headers)


routes: list[BaseRoute] = [Route("/{path:path}", serve, methods=list(ENDPOINT_METHODS))]
