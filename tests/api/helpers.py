"""Small helpers for wire tests: definitions, polling and completing over plain HTTP."""

from __future__ import annotations

import time
from typing import Any

import httpx


def simple_workflow(name: str, steps: list[str], **extra: Any) -> dict[str, Any]:
    """A sequence of worker steps; each step's input carries the previous step's output."""
    tasks = []
    previous = "${workflow.input}"
    for index, step in enumerate(steps):
        tasks.append(
            {
                "name": step,
                "taskReferenceName": f"{step}_{index}",
                "type": "SIMPLE",
                "inputParameters": {"previous": previous, "x": "${workflow.input.x}"},
            }
        )
        previous = f"${{{step}_{index}.output}}"
    return {"name": name, "version": 1, "tasks": tasks, **extra}


def dynamic_fork_steps() -> list[dict[str, Any]]:
    """A FORK_JOIN_DYNAMIC ``fan_out`` of the branches in the run's input (``tasks``, ``inputs``) and its JOIN."""
    return [
        {
            "name": "fan_out",
            "taskReferenceName": "fan_out",
            "type": "FORK_JOIN_DYNAMIC",
            "inputParameters": {"tasks": "${workflow.input.tasks}", "inputs": "${workflow.input.inputs}"},
            "dynamicForkTasksParam": "tasks",
            "dynamicForkTasksInputParamName": "inputs",
        },
        {"name": "fan_in", "taskReferenceName": "fan_in", "type": "JOIN"},
    ]


def register(client: httpx.Client, definition: dict[str, Any]) -> None:
    response = client.post("/api/metadata/workflow", json=definition, params={"overwrite": "true"})
    assert response.status_code == 200, response.text


def start(client: httpx.Client, name: str, payload: dict[str, Any] | None = None, **params: Any) -> str:
    response = client.post(f"/api/workflow/{name}", json=payload or {}, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def poll(client: httpx.Client, task_type: str, count: int = 1, timeout_ms: int = 2000) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/tasks/poll/batch/{task_type}", params={"workerid": "test-worker", "count": count, "timeout": timeout_ms}
    )
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()
    return tasks


def complete(client: httpx.Client, task: dict[str, Any], output: dict[str, Any] | None = None) -> httpx.Response:
    return client.post(
        "/api/tasks",
        json={
            "taskId": task["taskId"],
            "workflowInstanceId": task["workflowInstanceId"],
            "status": "COMPLETED",
            "outputData": output or {},
            "workerId": "test-worker",
        },
    )


def run_of(client: httpx.Client, workflow_id: str) -> dict[str, Any]:
    response = client.get(f"/api/workflow/{workflow_id}")
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


def wait_for_status(client: httpx.Client, workflow_id: str, status: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = run_of(client, workflow_id)
        if run["status"] == status or time.monotonic() > deadline:
            assert run["status"] == status, run
            return run
        time.sleep(0.05)
