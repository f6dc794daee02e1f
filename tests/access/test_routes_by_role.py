"""Every route of every surface, asked by a key of every role and by no key: generated from the app's own routes.

A role whose permissions hold the route's is not refused (no 401, no 403, never a 5xx); any other gets 403 naming
the role lacking; no credentials get 401. A route added without an access rule stops the app from being built,
so it fails here before any request.
"""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.routing import BaseRoute, Mount, Route

from baton.api.access import Guard, SurfaceAccess, guard, route_methods
from baton.config import Settings
from baton.model.access import ROLE_PERMISSIONS, Permission, Role
from baton.server import create_app
from tests.access.helpers import key_headers, role_keys
from tests.helpers import SHARED_TLS

pytestmark = pytest.mark.timeout(300)

_PARAMS = re.compile(r"{([^}:]+)(?::([a-z]+))?}")


def _concrete(path: str) -> str:
    """The route's path with each parameter filled in: a number for ``int``, a word of no meaning otherwise."""
    return _PARAMS.sub(lambda m: "1" if m.group(2) == "int" else f"nosuch-{m.group(1)}", path)


def surface_routes() -> list[tuple[str, str, Permission]]:
    """(method, concrete path, permission) of every guarded route of every surface of the app."""
    found = []
    for mount in create_app(Settings()).routes:
        if not isinstance(mount, Mount):
            continue
        for route in mount.routes:
            assert isinstance(route, Route) and isinstance(route.app, Guard), f"{route} is not behind its rule"
            for method in route_methods(route):
                found.append((method, mount.path + _concrete(route.path), route.app.permissions[method]))
    return found


ROUTES = surface_routes()


def test_every_surface_route_is_listed() -> None:
    listed = {(method, path) for method, path, _ in ROUTES}
    assert ("POST", "/api/token") in listed and ("GET", "/api/workflow/nosuch-workflow_id") in listed
    assert ("POST", "/elsa/api/identity/login") in listed and ("GET", "/api/v1/filters") in listed
    assert len(ROUTES) > 100


def test_a_route_without_a_rule_stops_the_app_from_being_built() -> None:
    async def endpoint(request: object) -> None: ...

    routes: list[BaseRoute] = [Route("/kept", endpoint, methods=["GET"]), Route("/new", endpoint, methods=["POST"])]
    access = SurfaceAccess({"GET /kept": Permission.READ}, lambda scope, exc: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(LookupError, match="POST /new"):
        guard(routes, access, auth=True)


def _send(client: httpx.Client, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    body = None if method in ("GET", "DELETE", "OPTIONS") else {}
    return client.request(method, path, json=body, headers=headers, params={"timeout": 0})


def test_each_role_is_let_in_or_refused_as_its_permissions_say(server: object) -> None:
    with server.client() as admin:  # type: ignore[attr-defined]
        keys = role_keys(admin)
    failures: list[str] = []
    with httpx.Client(base_url=server.url, timeout=30.0, verify=SHARED_TLS) as client:  # type: ignore[attr-defined]
        for method, path, permission in ROUTES:
            anonymous = _send(client, method, path, {})
            if permission is not Permission.PUBLIC and anonymous.status_code != 401:
                failures.append(f"no key: {method} {path} -> {anonymous.status_code}")
            for role, key in keys.items():
                answer = _send(client, method, path, key_headers(key))
                allowed = permission in ROLE_PERMISSIONS[role]
                if allowed and (answer.status_code in (401, 403) or answer.status_code >= 500):
                    failures.append(
                        f"{role}: {method} {path} ({permission}) -> {answer.status_code} {answer.text[:200]}"
                    )
                if not allowed and answer.status_code != 403:
                    failures.append(f"{role}: {method} {path} ({permission}) -> {answer.status_code}, not 403")
                if not allowed and "role" not in answer.text:
                    failures.append(f"{role}: {method} {path}: the 403 names no role: {answer.text[:200]}")
    assert failures == []


def test_refusals_answer_in_each_surface_shape(server: object) -> None:
    with server.client() as admin:  # type: ignore[attr-defined]
        worker = role_keys(admin)[Role.WORKER]
    with httpx.Client(base_url=server.url, timeout=30.0, verify=SHARED_TLS) as client:  # type: ignore[attr-defined]
        missing = client.get("/api/workflow/nosuch")
        assert missing.status_code == 401 and missing.json()["error"] == "MISSING_CREDENTIALS"
        assert missing.headers["www-authenticate"] == "Bearer"
        denied = client.get("/api/workflow/nosuch", headers=key_headers(worker))
        assert denied.status_code == 403 and denied.json()["status"] == 403
        assert "needs the VIEWER role" in denied.json()["message"]
        elsa = client.get("/elsa/api/workflow-instances", headers=key_headers(worker))
        assert elsa.status_code == 403 and elsa.json()["statusCode"] == 403
        ballerine = client.get("/api/v1/internal/workflows", headers=key_headers(worker))
        assert ballerine.status_code == 403 and ballerine.json()["path"] == "/api/v1/internal/workflows"
        wrong = client.get("/api/workflow/nosuch", headers={"Authorization": f"ApiKey {worker[0]}:wrong"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "INVALID_TOKEN"
        basic = client.get("/api/workflow/nosuch", headers={"Authorization": "Basic dXNlcjpwYXNz"})
        assert basic.status_code == 401 and basic.json()["error"] == "INVALID_TOKEN"
