"""``/api/metadata``: round trips, versions, conflicts, and errors that name the field."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import register, simple_workflow


@pytest.mark.own_server
def test_workflow_definition_round_trip_and_versions(client: httpx.Client) -> None:
    register(client, simple_workflow("orders", ["charge"]))
    register(client, {**simple_workflow("orders", ["charge", "ship"]), "version": 2})

    latest = client.get("/api/metadata/workflow/orders").json()
    assert latest["version"] == 2
    assert [t["name"] for t in latest["tasks"]] == ["charge", "ship"]
    first = client.get("/api/metadata/workflow/orders", params={"version": 1}).json()
    assert [t["taskReferenceName"] for t in first["tasks"]] == ["charge_0"]
    listed = client.get("/api/metadata/workflow").json()
    assert [(d["name"], d["version"]) for d in listed] == [("orders", 1), ("orders", 2)]

    assert client.delete("/api/metadata/workflow/orders/2").status_code == 200
    assert client.get("/api/metadata/workflow/orders").json()["version"] == 1
    assert client.delete("/api/metadata/workflow/orders/2").status_code == 404


def test_create_without_overwrite_conflicts_and_keeps_the_original(client: httpx.Client) -> None:
    register(client, simple_workflow("once", ["a"]))
    again = client.post("/api/metadata/workflow", json=simple_workflow("once", ["b"]))
    assert again.status_code == 409
    assert "once" in again.json()["message"]
    assert client.get("/api/metadata/workflow/once").json()["tasks"][0]["name"] == "a"


def test_put_creates_or_updates_a_list(client: httpx.Client) -> None:
    response = client.put("/api/metadata/workflow", json=[simple_workflow("a", ["x"]), simple_workflow("b", ["y"])])
    assert response.status_code == 200, response.text
    response = client.put("/api/metadata/workflow", json=[simple_workflow("a", ["z"])])
    assert response.status_code == 200
    assert client.get("/api/metadata/workflow/a").json()["tasks"][0]["name"] == "z"


@pytest.mark.own_server
def test_validation_errors_name_the_field_and_store_nothing(client: httpx.Client) -> None:
    duplicate = simple_workflow("dup", ["a", "b"])
    duplicate["tasks"][1]["taskReferenceName"] = duplicate["tasks"][0]["taskReferenceName"]
    cases = {
        "tasks[1].taskReferenceName": duplicate,
        "tasks[0].type": {"name": "bad_type", "tasks": [{"name": "x", "taskReferenceName": "x", "type": "NOPE"}]},
        "tasks[0].decisionCases": {
            "name": "no_cases",
            "tasks": [
                {
                    "name": "s",
                    "taskReferenceName": "s",
                    "type": "SWITCH",
                    "evaluatorType": "value-param",
                    "expression": "k",
                }
            ],
        },
        "tasks[0].taskReferenceName": {"name": "missing", "tasks": [{"name": "x"}]},
        "tasks[0].name": {"name": "wrong_type", "tasks": [{"name": 5, "taskReferenceName": "x"}]},
        "tasks": {"name": "empty", "tasks": []},
    }
    for path, definition in cases.items():
        response = client.post("/api/metadata/workflow", json=definition)
        assert response.status_code == 400, (path, response.text)
        body = response.json()
        assert body["status"] == 400
        assert path in [e["path"] for e in body["validationErrors"]], (path, body)
    assert client.get("/api/metadata/workflow").json() == []


def test_malformed_json_is_a_400_naming_the_body(client: httpx.Client) -> None:
    response = client.post(
        "/api/metadata/workflow", content=b'{"name": "x", "tasks": [', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["validationErrors"][0]["path"] == "body"


@pytest.mark.own_server
def test_task_definitions(client: httpx.Client) -> None:
    response = client.post(
        "/api/metadata/taskdefs",
        json=[{"name": "charge", "retryCount": 2, "responseTimeoutSeconds": 30, "timeoutSeconds": 60}],
    )
    assert response.status_code == 200, response.text
    fetched = client.get("/api/metadata/taskdefs/charge").json()
    assert (fetched["retryCount"], fetched["responseTimeoutSeconds"]) == (2, 30)
    assert client.put("/api/metadata/taskdefs", json={"name": "charge", "retryCount": 5}).status_code == 200
    assert client.get("/api/metadata/taskdefs/charge").json()["retryCount"] == 5
    assert [d["name"] for d in client.get("/api/metadata/taskdefs").json()] == ["charge"]

    bad = client.post("/api/metadata/taskdefs", json=[{"name": "x", "retryCount": -1}])
    assert bad.status_code == 400
    assert bad.json()["validationErrors"][0]["path"] == "retryCount"
    assert client.get("/api/metadata/taskdefs/x").status_code == 404

    assert client.delete("/api/metadata/taskdefs/charge").status_code == 200
    assert client.get("/api/metadata/taskdefs/charge").status_code == 404
