"""Conductor's routes beside the main ones, on both stores: update by reference answering the run (``.../sync``),
correlated runs of many ids (``POST /api/workflow/{name}/correlated``) and workers' last polls
(``/api/tasks/queue/polldata``)."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.helpers import complete, poll, register, run_of, start, unique, worker

pytestmark = pytest.mark.timeout(90)


# -- POST /api/tasks/{workflowId}/{ref}/{status}/sync -----------------------------------------


def _two_steps(client: httpx.Client) -> tuple[str, str]:
    name, step = unique("synced"), unique("step")
    register(client, {"name": name, "version": 1, "tasks": [worker("first", step), worker("second", step)]})
    return name, step


def test_update_by_reference_answers_the_run_as_updated(client: httpx.Client) -> None:
    name, _ = _two_steps(client)
    workflow_id = start(client, name)
    response = client.post(
        f"/api/tasks/{workflow_id}/first/COMPLETED/sync", json={"k": 1}, params={"workerid": "ops-desk"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    run = response.json()
    assert run["workflowId"] == workflow_id and run["status"] == "RUNNING" and run["workflowType"] == name
    first, second = run["tasks"]
    assert (first["referenceTaskName"], first["status"], first["outputData"]) == ("first", "COMPLETED", {"k": 1})
    assert first["workerId"] == "ops-desk"
    assert (second["referenceTaskName"], second["status"]) == ("second", "SCHEDULED")
    assert run_of(client, workflow_id)["tasks"] == run["tasks"]

    # Lower case, as the clients' enums may send it; an IN_PROGRESS update merges the output and leaves it pending.
    pending = client.post(f"/api/tasks/{workflow_id}/second/in_progress/sync", json={"half": True}).json()
    assert [(t["status"], t["outputData"]) for t in pending["tasks"]][1] == ("SCHEDULED", {"half": True})
    done = client.post(f"/api/tasks/{workflow_id}/second/COMPLETED/sync", json={}).json()
    assert done["status"] == "COMPLETED" and [t["status"] for t in done["tasks"]] == ["COMPLETED", "COMPLETED"]


def test_update_by_reference_refuses_bad_input_and_changes_nothing(client: httpx.Client) -> None:
    name, _ = _two_steps(client)
    workflow_id = start(client, name)
    before = run_of(client, workflow_id)

    bad_status = client.post(f"/api/tasks/{workflow_id}/first/DONE/sync", json={})
    assert bad_status.status_code == 400
    assert bad_status.json()["validationErrors"][0]["path"] == "status"
    assert "COMPLETED" in bad_status.json()["validationErrors"][0]["message"]
    bad_body = client.post(f"/api/tasks/{workflow_id}/first/COMPLETED/sync", json=[1])
    assert bad_body.status_code == 400 and bad_body.json()["validationErrors"][0]["path"] == "body"
    unknown_run = client.post(f"/api/tasks/{unique('no-such-run')}/first/COMPLETED/sync", json={})
    assert unknown_run.status_code == 404
    unknown_ref = client.post(f"/api/tasks/{workflow_id}/third/COMPLETED/sync", json={})
    assert unknown_ref.status_code == 404 and "third" in unknown_ref.json()["message"]

    assert run_of(client, workflow_id) == before


# -- POST /api/workflow/{name}/correlated -----------------------------------------------------


def test_correlated_runs_of_many_ids(client: httpx.Client) -> None:
    name, step = _two_steps(client)
    first = start(client, name, correlationId="c1")
    second = start(client, name, correlationId="c1")
    third = start(client, name, correlationId="c2")
    assert client.delete(f"/api/workflow/{second}", params={"reason": "done"}).status_code == 200

    response = client.post(f"/api/workflow/{name}/correlated", json=["c1", "c2", "c3", "c1"])
    assert response.status_code == 200, response.text
    found = response.json()
    assert list(found) == ["c1", "c2", "c3"]
    assert [run["workflowId"] for run in found["c1"]] == [first]
    assert [run["workflowId"] for run in found["c2"]] == [third]
    assert found["c3"] == []
    assert found["c1"][0]["tasks"] == [] and found["c1"][0]["correlationId"] == "c1"

    params = {"includeClosed": "true", "includeTasks": "true"}
    closed = client.post(f"/api/workflow/{name}/correlated", json=["c1"], params=params).json()
    assert sorted(run["workflowId"] for run in closed["c1"]) == sorted([first, second])
    assert all(run["tasks"] and run["tasks"][0]["taskType"] == step for run in closed["c1"])
    # The same runs as the GET for one id.
    single = client.get(f"/api/workflow/{name}/correlated/c1", params=params).json()
    assert sorted(run["workflowId"] for run in single) == sorted(run["workflowId"] for run in closed["c1"])

    assert client.post(f"/api/workflow/{unique('nothing')}/correlated", json=["c1"]).json() == {"c1": []}
    assert client.post(f"/api/workflow/{name}/correlated", json=[]).json() == {}


@pytest.mark.parametrize(
    ("body", "path"),
    [({"ids": ["c1"]}, "body"), ("c1", "body"), (["c1", 2], "body[1]"), ([None], "body[0]"), (None, "body")],
)
def test_correlated_runs_refuse_a_body_that_is_not_a_list_of_ids(client: httpx.Client, body: Any, path: str) -> None:
    response = client.post(f"/api/workflow/{unique('named')}/correlated", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["validationErrors"][0]["path"] == path


def test_too_many_correlation_ids(client: httpx.Client) -> None:
    response = client.post(f"/api/workflow/{unique('named')}/correlated", json=[str(n) for n in range(1001)])
    assert response.status_code == 400 and response.json()["validationErrors"][0]["path"] == "body"


# -- GET /api/tasks/queue/polldata[/all] ------------------------------------------------------


def test_the_last_poll_of_each_worker_and_domain(client: httpx.Client) -> None:
    task_type, other = unique("polled"), unique("polled")
    before = int(time.time() * 1000)
    assert client.get("/api/tasks/queue/polldata", params={"taskType": task_type}).json() == []
    poll(client, task_type, timeout_ms=0)  # workerid test-worker
    assert client.get(f"/api/tasks/poll/{task_type}", params={"workerid": "w2", "domain": "eu"}).status_code == 204
    client.get(f"/api/tasks/poll/batch/{other}", params={"count": 1, "timeout": 0})

    response = client.get("/api/tasks/queue/polldata", params={"taskType": task_type})
    assert response.status_code == 200
    found = response.json()
    # No domain first, then by domain and worker.
    assert [(p["queueName"], p["domain"], p["workerId"]) for p in found] == [
        (task_type, None, "test-worker"),
        (task_type, "eu", "w2"),
    ]
    assert all(before <= p["lastPollTime"] <= int(time.time() * 1000) for p in found)
    every = client.get("/api/tasks/queue/polldata/all").json()
    assert {(p["queueName"], p["workerId"]) for p in every} >= {
        (task_type, "test-worker"),
        (task_type, "w2"),
        (other, None),
    }

    # A later poll moves the time on.
    first_time = next(p["lastPollTime"] for p in found if p["workerId"] == "w2")
    time.sleep(0.01)
    client.get(f"/api/tasks/poll/{task_type}", params={"workerid": "w2", "domain": "eu"})
    again = client.get("/api/tasks/queue/polldata", params={"taskType": task_type}).json()
    assert next(p["lastPollTime"] for p in again if p["workerId"] == "w2") > first_time


def test_a_result_with_update_v2_counts_as_a_poll(client: httpx.Client) -> None:
    name, step = _two_steps(client)
    start(client, name)
    (task,) = poll(client, step)
    result = {"taskId": task["taskId"], "workflowInstanceId": task["workflowInstanceId"], "status": "COMPLETED"}
    response = client.post("/api/tasks/update-v2", json={**result, "workerId": "v2-worker"})
    assert response.status_code == 200 and response.json()["referenceTaskName"] == "second"
    found = client.get("/api/tasks/queue/polldata", params={"taskType": step}).json()
    assert sorted(p["workerId"] for p in found) == ["test-worker", "v2-worker"]
    assert complete(client, response.json()).status_code == 200


def test_poll_data_needs_a_task_type(client: httpx.Client) -> None:
    for params in ({}, {"taskType": ""}, {"taskType": "  "}):
        response = client.get("/api/tasks/queue/polldata", params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["validationErrors"][0]["path"] == "taskType"
