"""The worker API over HTTP: long polls, results, leases, retries, priorities."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from tests.helpers import complete, poll, register, run_of, simple_workflow, start, wait_for_status


def test_a_three_step_run_completes_with_each_output_feeding_the_next(client: httpx.Client) -> None:
    register(client, simple_workflow("three", ["a", "b", "c"], outputParameters={"final": "${c_2.output.n}"}))
    workflow_id = start(client, "three", {"x": 1})
    for step, n in (("a", 1), ("b", 2), ("c", 3)):
        (task,) = poll(client, step)
        assert task["status"] == "IN_PROGRESS"
        assert task["workerId"] == "test-worker"
        if step != "a":
            assert task["inputData"]["previous"] == {"n": n - 1}
        response = complete(client, task, {"n": n})
        assert (response.status_code, response.text) == (200, task["taskId"])
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert run["output"] == {"final": 3}
    assert [t["status"] for t in run["tasks"]] == ["COMPLETED"] * 3


def test_long_poll_returns_when_a_task_arrives_and_empty_at_the_timeout(client: httpx.Client, server: Any) -> None:
    register(client, simple_workflow("late", ["arrives"]))
    assert poll(client, "arrives", timeout_ms=200) == []

    def start_soon() -> None:
        time.sleep(0.5)
        with server.client() as http:
            start(http, "late")

    thread = threading.Thread(target=start_soon)
    thread.start()
    began = time.monotonic()
    tasks = poll(client, "arrives", timeout_ms=15_000)
    waited = time.monotonic() - began
    thread.join()
    assert len(tasks) == 1
    assert waited < 10, "the long poll was not woken by the new task"


def test_batch_poll_hands_out_at_most_count_and_never_twice(client: httpx.Client) -> None:
    register(client, simple_workflow("many", ["bulk"]))
    for _ in range(5):
        start(client, "many")
    first = poll(client, "bulk", count=3)
    second = poll(client, "bulk", count=3)
    assert (len(first), len(second)) == (3, 2)
    assert not {t["taskId"] for t in first} & {t["taskId"] for t in second}
    assert client.get("/api/tasks/queue/sizes", params={"taskType": "bulk"}).json() == {"bulk": 0}


def test_higher_priority_first_then_first_in_first_out(client: httpx.Client) -> None:
    register(client, simple_workflow("prio", ["ordered"]))
    low_a = start(client, "prio", priority=0)
    high = start(client, "prio", priority=90)
    low_b = start(client, "prio", priority=0)
    mid = start(client, "prio", priority=50)
    handed = [poll(client, "ordered")[0]["workflowInstanceId"] for _ in range(4)]
    assert handed == [high, mid, low_a, low_b]


def test_single_poll_and_update_v2_hands_the_next_task(client: httpx.Client) -> None:
    register(client, simple_workflow("chain", ["hop"]))
    assert client.get("/api/tasks/poll/hop", params={"workerid": "w"}).status_code == 204
    first_run, second_run = start(client, "chain"), start(client, "chain")
    task = client.get("/api/tasks/poll/hop", params={"workerid": "w"}).json()
    assert task["workflowInstanceId"] == first_run
    result = {"taskId": task["taskId"], "workflowInstanceId": first_run, "status": "COMPLETED", "workerId": "w"}
    response = client.post("/api/tasks/update-v2", json=result)
    assert response.status_code == 200, response.text
    next_task = response.json()
    assert (next_task["workflowInstanceId"], next_task["status"]) == (second_run, "IN_PROGRESS")
    result = {"taskId": next_task["taskId"], "workflowInstanceId": second_run, "status": "COMPLETED"}
    assert client.post("/api/tasks/update-v2", json=result).status_code == 204
    wait_for_status(client, first_run, "COMPLETED")
    wait_for_status(client, second_run, "COMPLETED")
    fetched = client.get(f"/api/tasks/{task['taskId']}").json()
    assert fetched["status"] == "COMPLETED"


def test_failed_results_are_retried_then_fail_the_run(client: httpx.Client) -> None:
    client.post("/api/metadata/taskdefs", json=[{"name": "failing_step", "retryCount": 1, "retryDelaySeconds": 0}])
    register(client, simple_workflow("retrying_results", ["failing_step"]))
    workflow_id = start(client, "retrying_results")
    for attempt in range(2):
        (task,) = poll(client, "failing_step")
        assert task["retryCount"] == attempt
        failed = {
            "taskId": task["taskId"],
            "workflowInstanceId": workflow_id,
            "status": "FAILED",
            "reasonForIncompletion": f"boom {attempt}",
        }
        assert client.post("/api/tasks", json=failed).status_code == 200
    run = wait_for_status(client, workflow_id, "FAILED")
    assert "boom 1" in run["reasonForIncompletion"]
    assert [t["status"] for t in run["tasks"]] == ["FAILED", "FAILED"]


def test_terminal_error_is_not_retried(client: httpx.Client) -> None:
    client.post("/api/metadata/taskdefs", json=[{"name": "fatal", "retryCount": 3, "retryDelaySeconds": 0}])
    register(client, simple_workflow("terminal", ["fatal"]))
    workflow_id = start(client, "terminal")
    (task,) = poll(client, "fatal")
    result = {"taskId": task["taskId"], "workflowInstanceId": workflow_id, "status": "FAILED_WITH_TERMINAL_ERROR"}
    assert client.post("/api/tasks", json=result).status_code == 200
    run = wait_for_status(client, workflow_id, "FAILED")
    assert len(run["tasks"]) == 1


def test_an_expired_lease_is_retried_and_its_late_result_ignored(client: httpx.Client) -> None:
    client.post(
        "/api/metadata/taskdefs",
        json=[{"name": "slowpoke", "retryCount": 2, "retryDelaySeconds": 0, "responseTimeoutSeconds": 1}],
    )
    register(client, simple_workflow("leases", ["slowpoke"]))
    workflow_id = start(client, "leases")
    (stale,) = poll(client, "slowpoke")
    (retry,) = poll(client, "slowpoke", timeout_ms=10_000)
    assert retry["taskId"] != stale["taskId"]
    assert retry["retryCount"] == 1
    late = complete(client, stale, {"late": True})
    assert (late.status_code, late.text) == (200, stale["taskId"])  # ignored, as Conductor does
    assert complete(client, retry, {"on_time": True}).status_code == 200
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert [t["status"] for t in run["tasks"]] == ["TIMED_OUT", "COMPLETED"]
    assert run["output"] == {"on_time": True}


def test_in_progress_with_callback_requeues_the_task(client: httpx.Client) -> None:
    register(client, simple_workflow("callback", ["later"]))
    workflow_id = start(client, "callback")
    (task,) = poll(client, "later")
    result = {
        "taskId": task["taskId"],
        "workflowInstanceId": workflow_id,
        "status": "IN_PROGRESS",
        "callbackAfterSeconds": 1,
        "outputData": {"progress": 50},
    }
    assert client.post("/api/tasks", json=result).status_code == 200
    assert poll(client, "later", timeout_ms=100) == []
    (again,) = poll(client, "later", timeout_ms=10_000)
    assert again["taskId"] == task["taskId"]
    assert again["pollCount"] == 2
    assert complete(client, again, {"progress": 100}).status_code == 200
    assert wait_for_status(client, workflow_id, "COMPLETED")["output"] == {"progress": 100}


def test_results_for_unknown_tasks_and_bad_statuses(client: httpx.Client) -> None:
    unknown = client.post("/api/tasks", json={"taskId": "nope", "status": "COMPLETED"})
    assert unknown.status_code == 404
    bad_status = client.post("/api/tasks", json={"taskId": "x", "status": "DONE"})
    assert bad_status.status_code == 400
    assert bad_status.json()["validationErrors"][0]["path"] == "status"
    missing = client.post("/api/tasks", json={"status": "COMPLETED"})
    assert missing.status_code == 400
    assert missing.json()["validationErrors"][0]["path"] == "taskId"
    assert client.get("/api/tasks/poll/batch/x", params={"count": 0}).status_code == 400
    assert client.get("/api/tasks/nope").status_code == 404


def test_a_completed_result_is_applied_once(client: httpx.Client) -> None:
    register(client, simple_workflow("once", ["single"]))
    workflow_id = start(client, "once")
    (task,) = poll(client, "single")
    assert complete(client, task, {"v": 1}).status_code == 200
    assert complete(client, task, {"v": 2}).status_code == 200  # ignored, as Conductor does
    assert run_of(client, workflow_id)["tasks"][0]["outputData"] == {"v": 1}


def test_a_long_poll_whose_worker_hung_up_claims_nothing(client: httpx.Client, server: Any) -> None:
    register(client, simple_workflow("abandoned", ["left_behind"]))
    with server.client() as impatient, pytest.raises(httpx.ReadTimeout):
        impatient.get(
            "/api/tasks/poll/batch/left_behind",
            params={"workerid": "gone", "count": 1, "timeout": 10_000},
            timeout=0.5,
        )
    time.sleep(0.2)
    workflow_id = start(client, "abandoned")
    time.sleep(0.5)
    (task,) = poll(client, "left_behind", timeout_ms=5_000)
    assert (task["workflowInstanceId"], task["workerId"]) == (workflow_id, "test-worker")
