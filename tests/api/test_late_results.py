"""Results that come too late, over real HTTP: Conductor answers 200 and does not apply them; Baton logs them.

A result for a task that already ended or timed out, or whose run ended, by ``POST /api/tasks``,
``/api/tasks/update-v2`` or by reference, is answered as accepted, changes nothing, and leaves a
line in the task's log (``GET /api/tasks/{taskId}/log``) saying it was ignored and why.
"""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import poll, register, run_of, simple_workflow, start, task_defs, unique, wait_for_status


def result(task: dict[str, Any], status: str = "COMPLETED", **output: Any) -> dict[str, Any]:
    return {
        "taskId": task["taskId"],
        "workflowInstanceId": task["workflowInstanceId"],
        "status": status,
        "outputData": output,
        "workerId": "late-worker",
    }


def log_lines(client: httpx.Client, task_id: str) -> list[str]:
    response = client.get(f"/api/tasks/{task_id}/log")
    assert response.status_code == 200, response.text
    return [entry["log"] for entry in response.json()]


def test_a_result_after_the_lease_ran_out_is_ignored_and_logged(client: httpx.Client) -> None:
    slow, name = unique("slow"), unique("late_lease")
    task_defs(client, {"name": slow, "retryCount": 1, "retryDelaySeconds": 0, "responseTimeoutSeconds": 1})
    register(client, simple_workflow(name, [slow]))
    workflow_id = start(client, name)
    (stale,) = poll(client, slow)
    (retry,) = poll(client, slow, timeout_ms=10_000)  # the first lease ran out: a retry is handed out
    response = client.post("/api/tasks", json=result(stale, late=True))
    assert (response.status_code, response.text) == (200, stale["taskId"])
    run = run_of(client, workflow_id)
    assert [(t["status"], t["outputData"]) for t in run["tasks"]] == [("TIMED_OUT", {}), ("IN_PROGRESS", {})]
    (line,) = log_lines(client, stale["taskId"])
    assert line == f"Result COMPLETED from late-worker ignored: Task {stale['taskId']} is already TIMED_OUT"
    assert client.post("/api/tasks", json=result(retry, on_time=True)).status_code == 200
    assert wait_for_status(client, workflow_id, "COMPLETED")["output"] == {"on_time": True}


def test_a_second_result_is_ignored_and_logged_and_the_first_kept(client: httpx.Client) -> None:
    once, name = unique("once"), unique("late_twice")
    register(client, simple_workflow(name, [once]))
    workflow_id = start(client, name)
    (task,) = poll(client, once)
    assert client.post("/api/tasks", json=result(task, v=1)).status_code == 200
    again = client.post("/api/tasks", json=result(task, "FAILED", v=2))
    assert (again.status_code, again.text) == (200, task["taskId"])
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert run["tasks"][0]["outputData"] == {"v": 1}
    assert log_lines(client, task["taskId"]) == [
        f"Result FAILED from late-worker ignored: Task {task['taskId']} is already COMPLETED"
    ]


def test_a_result_for_a_terminated_run_is_ignored_and_logged(client: httpx.Client) -> None:
    work, name = unique("cut_short"), unique("late_terminated")
    register(client, simple_workflow(name, [work]))
    workflow_id = start(client, name)
    (task,) = poll(client, work)
    assert client.delete(f"/api/workflow/{workflow_id}", params={"reason": "stop"}).status_code in (200, 204)
    response = client.post("/api/tasks", json=result(task))
    assert (response.status_code, response.text) == (200, task["taskId"])
    assert run_of(client, workflow_id)["tasks"][0]["status"] == "CANCELED"
    (line,) = log_lines(client, task["taskId"])
    assert line.startswith("Result COMPLETED from late-worker ignored: ")


def test_update_v2_ignores_a_late_result_and_still_hands_out_the_next_task(client: httpx.Client) -> None:
    slow, name = unique("slow_v2"), unique("late_v2")
    task_defs(client, {"name": slow, "retryCount": 0, "responseTimeoutSeconds": 1})
    register(client, simple_workflow(name, [slow]))
    first_run = start(client, name)
    (stale,) = poll(client, slow)
    wait_for_status(client, first_run, "TIMED_OUT")
    second_run = start(client, name)
    response = client.post("/api/tasks/update-v2", json=result(stale, late=True))
    assert response.status_code == 200, response.text
    handed = response.json()
    assert handed["workflowInstanceId"] == second_run and handed["status"] == "IN_PROGRESS"
    assert handed["workerId"] == "late-worker"
    assert run_of(client, first_run)["tasks"][0]["outputData"] == {}
    assert log_lines(client, stale["taskId"]) == [
        f"Result COMPLETED from late-worker ignored: Task {stale['taskId']} is already TIMED_OUT"
    ]
    empty = client.post("/api/tasks/update-v2", json=result(stale))
    assert empty.status_code == 204  # ignored again, and nothing left to hand out


def test_a_status_by_reference_for_an_ended_step_is_ignored_and_logged(client: httpx.Client) -> None:
    name = unique("late_by_ref")
    human = {"name": "review", "taskReferenceName": "review", "type": "HUMAN"}
    register(client, {"name": name, "version": 1, "tasks": [human]})
    workflow_id = start(client, name)
    first = client.post(f"/api/tasks/{workflow_id}/review/COMPLETED", json={"ok": True})
    assert first.status_code == 200
    run = wait_for_status(client, workflow_id, "COMPLETED")
    again = client.post(f"/api/tasks/{workflow_id}/review/FAILED", json={"ok": False}, params={"workerid": "bob"})
    assert (again.status_code, again.text) == (200, first.text)
    assert run_of(client, workflow_id)["tasks"] == run["tasks"]
    (line,) = log_lines(client, first.text)
    assert line.startswith("FAILED by reference review from bob ignored: ")


def test_what_does_not_exist_is_still_not_found(client: httpx.Client) -> None:
    name = unique("late_missing")
    human = {"name": "review", "taskReferenceName": "review", "type": "HUMAN"}
    register(client, {"name": name, "version": 1, "tasks": [human]})
    workflow_id = start(client, name)
    assert client.post(f"/api/tasks/{workflow_id}/nowhere/COMPLETED", json={}).status_code == 404
    unknown = {"taskId": "00000000-0000-7000-8000-000000000000", "status": "COMPLETED"}
    assert client.post("/api/tasks", json=unknown).status_code == 404
    assert client.post("/api/tasks/update-v2", json=unknown).status_code == 404
