"""``/api/applications`` refuses bad input with a 400 naming the field, and stores nothing then."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import ServerProcess

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "roles": ["KING"]}, "roles[0]"),
        ({"name": "x", "roles": ["VIEWER", 7]}, "roles[1]"),
        ({"name": "x", "roles": "VIEWER"}, "roles"),
        ({"roles": ["VIEWER"]}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x", "taskTypes": "t"}, "taskTypes"),
        ({"name": "x", "queues": [""]}, "queues"),
        (["x"], "body"),
    ],
)
def test_a_bad_application_is_refused_naming_the_field(server: ServerProcess, body: Any, field: str) -> None:
    with server.client() as admin:
        before = admin.get("/api/applications").json()
        refused = admin.post("/api/applications", json=body)
        assert refused.status_code == 400, refused.text
        assert [error["path"] for error in refused.json()["validationErrors"]] == [field]
        assert admin.get("/api/applications").json() == before


def test_unknown_applications_keys_and_roles(server: ServerProcess) -> None:
    with server.client() as admin:
        made = admin.post("/api/applications", json={"name": "shape", "roles": ["VIEWER"]}).json()
        other = admin.post("/api/applications", json={"name": "other"}).json()
        key = admin.post(f"/api/applications/{made['id']}/accessKeys").json()
        assert admin.get("/api/applications/nosuch").status_code == 404
        assert admin.post("/api/applications/nosuch/accessKeys").status_code == 404
        assert admin.get("/api/applications/nosuch/accessKeys").status_code == 404
        bad_role = admin.post(f"/api/applications/{made['id']}/roles/KING")
        assert bad_role.status_code == 400 and bad_role.json()["validationErrors"][0]["path"] == "role"
        assert admin.delete(f"/api/applications/{other['id']}/accessKeys/{key['id']}").status_code == 404
        assert admin.post(f"/api/applications/{other['id']}/accessKeys/{key['id']}/status").status_code == 404
        assert admin.get(f"/api/applications/{made['id']}/accessKeys").json()[0]["status"] == "ACTIVE"
        assert admin.get(f"/api/applications/key/{key['id']}").json()["id"] == made["id"]
        granted = admin.post(f"/api/applications/{made['id']}/roles/WORKER").json()
        assert granted["roles"] == ["VIEWER", "WORKER"]
        removed = admin.delete(f"/api/applications/{made['id']}/roles/VIEWER").json()
        assert removed["roles"] == ["WORKER"]
        limited = admin.put(f"/api/applications/{made['id']}", json={"name": "shape", "taskTypes": ["t1"]}).json()
        assert limited["taskTypes"] == ["t1"] and limited["roles"] == ["WORKER"]
        assert admin.delete(f"/api/applications/{made['id']}").status_code == 200
        assert admin.get(f"/api/applications/key/{key['id']}").status_code == 404
