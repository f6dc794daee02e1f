"""Starting runs every way Conductor allows, over real HTTP: async, StartWorkflowRequest, inline, sync, idempotent."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.helpers import adder, complete, poll, register, run_of, simple_workflow, start, unique, wait_for_status

INLINE_ONLY = adder("adder")


def test_start_by_name_returns_the_id_as_text_and_records_the_request(client: httpx.Client) -> None:
    register(client, simple_workflow("flow", ["step"]))
    workflow_id = start(client, "flow", {"x": 7}, correlationId="order-1", priority=5)
    run = run_of(client, workflow_id)
    assert run["workflowId"] == workflow_id
    assert (run["workflowName"], run["workflowVersion"], run["status"]) == ("flow", 1, "RUNNING")
    assert (run["correlationId"], run["priority"], run["input"]) == ("order-1", 5, {"x": 7})
    assert [t["referenceTaskName"] for t in run["tasks"]] == ["step_0"]
    assert run["tasks"][0]["inputData"]["x"] == 7


def test_unknown_names_versions_and_bad_priorities(client: httpx.Client) -> None:
    register(client, simple_workflow("known", ["s"]))
    assert client.post("/api/workflow/unknown", json={}).status_code == 404
    assert client.post("/api/workflow/known", json={}, params={"version": 9}).status_code == 404
    for priority in ("-1", "100", "high"):
        response = client.post("/api/workflow/known", json={}, params={"priority": priority})
        assert response.status_code == 400, response.text
        assert response.json()["validationErrors"][0]["path"] == "priority"
    not_a_map = client.post("/api/workflow/known", json=[1, 2])
    assert not_a_map.status_code == 400
    assert client.get("/api/workflow/correlated-does-not-exist").status_code == 404


def test_start_workflow_request_and_inline_definition(client: httpx.Client) -> None:
    register(client, simple_workflow("versioned", ["va"]))
    register(client, {**simple_workflow("versioned", ["va", "vb"]), "version": 2})
    response = client.post("/api/workflow", json={"name": "versioned", "version": 1, "input": {"x": 1}})
    assert response.status_code == 200, response.text
    assert run_of(client, response.text)["workflowVersion"] == 1

    inline = client.post("/api/workflow", json={"name": "adhoc", "workflowDef": INLINE_ONLY, "input": {"a": 2, "b": 3}})
    assert inline.status_code == 200, inline.text
    run = wait_for_status(client, inline.text, "COMPLETED")
    assert run["output"] == {"sum": 5}

    bad_inline = client.post(
        "/api/workflow", json={"name": "adhoc", "workflowDef": {"name": "adhoc", "tasks": [{"name": "x"}]}}
    )
    assert bad_inline.status_code == 400
    assert bad_inline.json()["validationErrors"][0]["path"] == "workflowDef.tasks[0].taskReferenceName"


def test_execute_returns_200_with_the_output_when_the_run_ends(client: httpx.Client) -> None:
    register(client, INLINE_ONLY)
    response = client.post("/api/workflow/execute/adder", json={"input": {"a": 40, "b": 2}})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["output"]) == ("COMPLETED", {"sum": 42})
    assert body["requestId"]
    as_input_map = client.post("/api/workflow/execute/adder/1", json={"a": 1, "b": 1}, headers={"requestId": "r-1"})
    assert as_input_map.status_code == 200
    assert as_input_map.json()["output"] == {"sum": 2}
    assert as_input_map.json()["requestId"] == "r-1"


def test_execute_answers_206_when_time_runs_out(client: httpx.Client) -> None:
    register(client, simple_workflow("slow", ["never_polled"]))
    response = client.post("/api/workflow/execute/slow", json={}, params={"waitForSeconds": "0.3"})
    assert response.status_code == 206
    assert response.json()["status"] == "RUNNING"


def test_execute_is_woken_by_the_completion_itself(client: httpx.Client, server: Any) -> None:
    """The worker finishes long before waitForSeconds: the answer must come with the completion, not at the end."""
    register(client, simple_workflow("woken", ["work"]))

    def worker() -> None:
        with server.client(timeout=30) as http:
            tasks = poll(http, "work", timeout_ms=10_000)
            assert complete(http, tasks[0], {"done": True}).status_code == 200

    thread = threading.Thread(target=worker)
    thread.start()
    started = time.monotonic()
    response = client.post("/api/workflow/execute/woken", json={}, params={"waitForSeconds": 20})
    elapsed = time.monotonic() - started
    thread.join()
    assert response.status_code == 200, response.text
    assert response.json()["output"] == {"done": True}
    assert elapsed < 10, "the sync execute waited for its timeout instead of being woken"


def test_execute_answers_206_when_a_listed_task_completes(client: httpx.Client, server: Any) -> None:
    register(client, simple_workflow("two", ["first", "second"]))

    def worker() -> None:
        with server.client(timeout=30) as http:
            tasks = poll(http, "first", timeout_ms=10_000)
            complete(http, tasks[0], {"n": 1})

    thread = threading.Thread(target=worker)
    thread.start()
    response = client.post(
        "/api/workflow/execute/two", json={}, headers={"waitUntilTaskRef": "first_0", "waitForSeconds": "20"}
    )
    thread.join()
    assert response.status_code == 206, response.text
    body = response.json()
    assert body["status"] == "RUNNING"
    statuses = {t["referenceTaskName"]: t["status"] for t in body["tasks"]}
    assert statuses == {"first_0": "COMPLETED", "second_1": "SCHEDULED"}


def test_execute_answers_206_when_the_run_blocks_on_a_wait_task(client: httpx.Client) -> None:
    register(
        client,
        {"name": "approval", "tasks": [{"name": "wait", "taskReferenceName": "approve", "type": "WAIT"}]},
    )
    response = client.post("/api/workflow/execute/approval", json={}, params={"waitForSeconds": 20})
    assert response.status_code == 206
    workflow_id = response.json()["workflowId"]
    signal = client.post(f"/api/tasks/{workflow_id}/approve/COMPLETED", json={"approved": True})
    assert signal.status_code == 200, signal.text
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert run["tasks"][0]["outputData"] == {"approved": True}


@pytest.mark.parametrize("header_style", [True, False])
def test_idempotency_strategies(client: httpx.Client, header_style: bool) -> None:
    register(client, simple_workflow("idem", ["s"]))
    key = unique("k1")  # both header styles share the server

    def start_with(key: str, strategy: str) -> httpx.Response:
        if header_style:
            return client.post(
                "/api/workflow/idem", json={}, headers={"X-Idempotency-key": key, "X-on-conflict": strategy}
            )
        return client.post(
            "/api/workflow",
            json={"name": "idem", "idempotencyKey": key, "idempotencyStrategy": strategy},
        )

    first = start_with(key, "RETURN_EXISTING")
    assert first.status_code == 200
    again = start_with(key, "RETURN_EXISTING")
    assert (again.status_code, again.text) == (200, first.text)
    assert start_with(key, "FAIL").status_code == 409
    assert start_with(key, "FAIL_ON_RUNNING").status_code == 409
    assert client.delete(f"/api/workflow/{first.text}", params={"reason": "done"}).status_code == 200
    fresh = start_with(key, "FAIL_ON_RUNNING")
    assert fresh.status_code == 200
    assert fresh.text != first.text
    assert start_with(key, "FAIL").status_code == 409
    # conductor-python always sends a strategy; without a key it means nothing.
    keyless = [client.post("/api/workflow", json={"name": "idem", "idempotencyStrategy": "FAIL"}) for _ in range(2)]
    assert [r.status_code for r in keyless] == [200, 200]
    assert keyless[0].text != keyless[1].text
    bad = client.post("/api/workflow/idem", json={}, headers={"X-Idempotency-key": "k2", "X-on-conflict": "MAYBE"})
    assert bad.status_code == 400
    assert bad.json()["validationErrors"][0]["path"] == "X-on-conflict"


def test_fifty_concurrent_starts_with_one_key_give_one_run(client: httpx.Client, server: Any) -> None:
    register(client, simple_workflow("race", ["race_step"]))

    def attempt(_: int) -> str:
        with server.client(timeout=30) as http:
            response = http.post(
                "/api/workflow/race",
                json={},
                headers={"X-Idempotency-key": "same-key", "X-on-conflict": "RETURN_EXISTING"},
            )
            assert response.status_code == 200, response.text
            return response.text

    with ThreadPoolExecutor(max_workers=50) as pool:
        ids = set(pool.map(attempt, range(50)))
    assert len(ids) == 1
    sizes = client.get("/api/tasks/queue/sizes", params={"taskType": "race_step"}).json()
    assert sizes == {"race_step": 1}
