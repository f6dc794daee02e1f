"""The OpenAPI document tells the truth about the routes, validates as OpenAPI 3.1, and Swagger UI shows it.

The routes are read from the app ``baton serve`` runs (every Route, inside every Mount, with its
methods); the document is read as a real server serves it. Each side must hold exactly the
other's operations, path parameters compared by place, not by name.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
import jsonschema
from openapi_spec_validator import validate
from starlette.routing import BaseRoute, Mount, Route

from baton.api.openapi import document
from baton.config import Settings
from baton.server import create_app

NOT_DOCUMENTED = ("/swagger-ui", "/ui", "/elsa/api", "/api/v1", "/workflows")
"""Swagger UI's page, set-up and files (a page for people, not operations: checked below over HTTP), the
dashboard's pages, and the surfaces the document does not describe yet: Elsa's and Ballerine's APIs and the
HTTP-endpoint triggers, whose paths are the workflows' own."""
PAGES_AT_THE_ROOT = ("/",)
"""``GET /`` leads a person to the dashboard (``/ui/runs``)."""

_PARAMETER = re.compile(r"\{[^}]*\}")


def shape(path: str) -> str:
    """A path with its parameters unnamed: ``/api/workflow/{workflow_id}`` -> ``/api/workflow/{}``."""
    return _PARAMETER.sub("{}", path)


def app_routes(routes: list[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(method, path) of every route, inside every Mount; HEAD goes with GET."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Mount | Route) and (prefix + route.path).startswith(NOT_DOCUMENTED):
            continue
        if isinstance(route, Route) and prefix + route.path in PAGES_AT_THE_ROOT:
            continue
        if isinstance(route, Mount):
            found |= app_routes(route.routes, prefix + route.path)
        elif isinstance(route, Route):
            found |= {(method, prefix + route.path) for method in route.methods or () if method != "HEAD"}
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")
    return found


def app_operations(routes: list[BaseRoute]) -> set[tuple[str, str]]:
    """(method, path shape) of every route."""
    return {(method, shape(path)) for method, path in app_routes(routes)}


def documented_operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), shape(path)) for path, operations in doc["paths"].items() for method in operations}


def test_every_route_is_documented_and_every_documented_operation_exists() -> None:
    app = create_app(Settings())
    served = app_operations(app.routes)
    documented = documented_operations(document())
    assert sorted(served - documented) == [], "routes the document does not describe"
    assert sorted(documented - served) == [], "documented operations no route serves"


def test_a_path_parameter_the_route_reads_as_a_number_is_documented_as_one() -> None:
    """``{version:int}`` in a route is an integer parameter in the document; every other one a string."""
    doc = document()
    by_shape = {
        (method.upper(), shape(path)): (path, operation)
        for path, operations in doc["paths"].items()
        for method, operation in operations.items()
    }
    checked = 0
    for method, path in sorted(app_routes(create_app(Settings()).routes)):
        documented_path, operation = by_shape[(method, shape(path))]
        types = {param["name"]: param["schema"]["type"] for param in operation.get("parameters", ())}
        for served, named in zip(_PARAMETER.findall(path), _PARAMETER.findall(documented_path), strict=True):
            expected = "integer" if served.endswith(":int}") else "string"
            assert types[named.strip("{}")] == expected, f"{method} {documented_path}: {named}"
            checked += 1
    assert checked > 30


def test_a_missing_route_and_an_undocumented_one_are_both_found() -> None:
    """The comparison is not vacuous: one route more, or one fewer, shows."""
    app = create_app(Settings())
    served = app_operations(app.routes)
    documented = documented_operations(document())
    assert ("GET", "/api/workflow/{}") in served
    assert ("GET", "/api/workflow/{}") in documented
    assert ("PUT", "/api/tasks/{}") not in served
    extra = app_operations([Mount("/api", routes=[Route("/tasks/{task_id}", _endpoint, methods=["PUT"])])])
    assert (served | extra) - documented == {("PUT", "/api/tasks/{}")}
    assert documented - (served - {("GET", "/api/workflow/{}")}) == {("GET", "/api/workflow/{}")}


def _endpoint() -> None:
    """A route's endpoint, never called here."""


def test_the_served_document_is_valid_openapi_3_1(client: httpx.Client) -> None:
    response = client.get("/api-docs")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    served = response.json()
    assert served["openapi"] == "3.1.0"
    assert served == document()
    validate(served)


def test_the_document_uses_conductors_model_names() -> None:
    schemas = document()["components"]["schemas"]
    for name in (
        "Workflow",
        "Task",
        "WorkflowDef",
        "WorkflowTask",
        "TaskDef",
        "TaskResult",
        "StartWorkflowRequest",
        "SearchResultWorkflowSummary",
        "SearchResultTaskSummary",
        "TaskExecLog",
        "WorkflowTestRequest",
        "EventHandler",
        "PollData",
        "BulkResponse",
        "WorkflowStatus",
        "ErrorResponse",
    ):
        assert name in schemas, name
    assert schemas["WorkflowStatus"]["properties"]["status"]["enum"] == [
        "RUNNING",
        "COMPLETED",
        "FAILED",
        "TIMED_OUT",
        "TERMINATED",
        "PAUSED",
    ]
    assert "workflowType" in schemas["Workflow"]["properties"]
    assert schemas["Task"]["properties"]["status"]["type"] == "string"


def test_every_error_the_server_answers_is_the_documented_error_body(client: httpx.Client) -> None:
    """A 404 and a 400 from real routes, each checked against the document's ErrorResponse."""
    doc = document()
    error_schema = {"$ref": "#/components/schemas/ErrorResponse", "components": doc["components"]}
    missing = client.get("/api/workflow/no-such-run-for-openapi")
    bad = client.get("/api/tasks/poll/batch/openapi_type", params={"count": "many"})
    assert (missing.status_code, bad.status_code) == (404, 400)
    assert "404" in doc["paths"]["/api/workflow/{workflowId}"]["get"]["responses"]
    assert "400" in doc["paths"]["/api/tasks/poll/batch/{taskType}"]["get"]["responses"]
    for response in (missing, bad):
        jsonschema.validate(response.json(), error_schema)
    assert bad.json()["validationErrors"] == [{"path": "count", "message": "must be a whole number, got 'many'"}]


class _Assets(HTMLParser):
    """Every URL an HTML page loads (scripts, styles, icons, images)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def test_swagger_ui_loads_from_the_server_and_nothing_else(client: httpx.Client) -> None:
    redirect = client.get("/swagger-ui")
    assert redirect.status_code == 307
    assert redirect.headers["location"].endswith("/swagger-ui/index.html")
    page = client.get("/swagger-ui/index.html")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    parser = _Assets()
    parser.feed(page.text)
    assert len(parser.urls) >= 5
    assert "./swagger-ui-bundle.js" in parser.urls
    assert "./swagger-initializer.js" in parser.urls
    page_url = f"{client.base_url}/swagger-ui/index.html"
    for url in parser.urls:
        absolute = urljoin(page_url, url)
        assert urlsplit(absolute).netloc == urlsplit(page_url).netloc, f"{url} is loaded from another host"
        asset = client.get(absolute)
        assert asset.status_code == 200, url
        assert asset.content, url
    initializer = client.get("/swagger-ui/swagger-initializer.js").text
    assert not re.search(r"https?://", page.text + initializer), "the page or its set-up names another host"
    documented_at = re.search(r'url: "([^"]+)"', initializer)
    assert documented_at is not None
    assert client.get(urljoin(page_url, documented_at.group(1))).json() == document()
    assert "validatorUrl: null" in initializer
    bundle = client.get("/swagger-ui/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith(("text/javascript", "application/javascript"))
    assert len(bundle.content) > 500_000
    missing = client.get("/swagger-ui/no-such-asset.js")
    assert missing.status_code == 404
    assert missing.json()["message"] == "No route for GET /swagger-ui/no-such-asset.js"
