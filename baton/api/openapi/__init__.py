"""Conductor's API described: the OpenAPI 3.1 document at ``/api-docs`` and Swagger UI at ``/swagger-ui/``.

The document is written by hand, one module per area of the API over shared component
definitions (``spec.py``, ``components.py``); the models' schemas are derived from the structs.
Swagger UI is served from the files of the ``swagger-ui-bundle-v2`` package: the server needs
no internet (``swagger_ui.py``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from baton.api.openapi import swagger_ui
from baton.api.openapi.document import OPENAPI_PATH, document, document_json

__all__ = ["OPENAPI_PATH", "document", "routes"]


async def api_docs(request: Request) -> Response:
    return Response(document_json(), media_type="application/json")


routes: list[BaseRoute] = [Route(OPENAPI_PATH, api_docs, methods=["GET"]), *swagger_ui.routes]
