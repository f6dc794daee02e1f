"""Swagger UI at ``/swagger-ui/index.html``, from the files of the ``swagger-ui-bundle-v2`` package.

The page, its scripts and styles are the package's, served as they are, except
``swagger-initializer.js``: the package's points at an example on the internet, Baton's
at its own document (``../api-docs``, so a proxy's prefix is kept) with the online
validator turned off. Nothing the page loads comes from another host.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

PREFIX = "/swagger-ui"

INITIALIZER = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "../api-docs",
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout",
  });
};
"""


async def initializer(request: Request) -> Response:
    return Response(INITIALIZER, media_type="text/javascript")


async def to_index(request: Request) -> Response:
    return RedirectResponse(f"{PREFIX}/index.html")


routes: list[BaseRoute] = [
    Route(PREFIX, to_index, methods=["GET"]),
    Route(f"{PREFIX}/swagger-initializer.js", initializer, methods=["GET"]),
    Mount(PREFIX, StaticFiles(directory=str(swagger_ui_path), html=True)),
]
