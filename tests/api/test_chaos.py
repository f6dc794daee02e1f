"""Chaos: the server is SIGKILLed again and again while 300 runs with forks, loops, sub-workflows and timers run.

Every worker's output is a pure function of its input, so a run's output says
whether it ended as it would have without the kills; the tasks say whether any
step was applied twice, and the worker's acknowledgements whether anything the
server accepted was lost.
"""

from __future__ import annotations

import random
import re
import time
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.helpers import ResilientWorker, register

RUNS = 300
LOOP_ITERATIONS = 3
KILL_AT_SHARES = (0.1, 0.3, 0.5, 0.7, 0.9)
WORKER_TASKS_PER_RUN = 4 + LOOP_ITERATIONS
WORKER_TYPES = ["chaos_a", "chaos_b", "chaos_c", "chaos_d", "chaos_e"]
_ITERATION_SUFFIX = re.compile(r"__\d+$")


def _simple(name: str, ref: str, **inputs: Any) -> dict[str, Any]:
    return {"name": name, "taskReferenceName": ref, "type": "SIMPLE", "inputParameters": inputs}


def _wait(ref: str, duration: str) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "WAIT", "inputParameters": {"duration": duration}}


CHILD = {
    "name": "chaos_child",
    "version": 1,
    "tasks": [_simple("chaos_e", "e", b="${workflow.input.b}")],
    "outputParameters": {"value": "${e.output.value}"},
}

PARENT = {
    "name": "chaos_parent",
    "version": 1,
    "tasks": [
        _simple("chaos_a", "a", x="${workflow.input.x}"),
        {
            "name": "fork",
            "taskReferenceName": "fork",
            "type": "FORK_JOIN",
            "forkTasks": [
                [_simple("chaos_b", "b", a="${a.output.value}")],
                [
                    _wait("pause", "1s"),
                    _simple("chaos_c", "c", a="${a.output.value}"),
                ],
            ],
        },
        {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["b", "c"]},
        {
            "name": "loop",
            "taskReferenceName": "loop",
            "type": "DO_WHILE",
            "loopCondition": f"if ($.loop['iteration'] < {LOOP_ITERATIONS}) {{ true; }} else {{ false; }}",
            "loopOver": [_simple("chaos_d", "d", x="${workflow.input.x}")],
        },
        {
            "name": "child",
            "taskReferenceName": "sub",
            "type": "SUB_WORKFLOW",
            "subWorkflowParam": {"name": "chaos_child", "version": 1},
            "inputParameters": {"b": "${b.output.value}"},
        },
    ],
    "outputParameters": {
        "a": "${a.output.value}",
        "b": "${b.output.value}",
        "c": "${c.output.value}",
        "loops": "${loop.output.iteration}",
        "child": "${sub.output.value}",
    },
}


def pure_output(task: dict[str, Any]) -> dict[str, Any]:
    """What each worker type answers: a function of its input alone."""
    given = task["inputData"]
    value = {
        "chaos_a": lambda: given["x"] * 2,
        "chaos_b": lambda: given["a"] + 1,
        "chaos_c": lambda: given["a"] + 2,
        "chaos_d": lambda: given["x"] + 1,
        "chaos_e": lambda: given["b"] * 10,
    }[task["taskType"]]()
    return {"value": value}


def expected_output(x: int) -> dict[str, Any]:
    return {"a": 2 * x, "b": 2 * x + 1, "c": 2 * x + 2, "loops": LOOP_ITERATIONS, "child": (2 * x + 1) * 10}


def _wait_until_all_end(client: httpx.Client, ids: list[str], timeout: float) -> set[str]:
    deadline = time.monotonic() + timeout
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for workflow_id in list(pending):
            try:
                status = client.get(f"/api/workflow/{workflow_id}/status").json()["status"]
            except httpx.TransportError:
                break
            if status not in ("RUNNING", "PAUSED"):
                pending.discard(workflow_id)
        time.sleep(0.2)
    return pending


@pytest.mark.slow
@pytest.mark.timeout(400)
@pytest.mark.own_server
def test_runs_end_as_without_kills_when_the_server_is_killed_repeatedly(server: ServerProcess) -> None:
    client = server.client(timeout=30)
    response = client.post(
        "/api/metadata/taskdefs",
        json=[
            {"name": name, "retryCount": 10, "retryDelaySeconds": 0, "responseTimeoutSeconds": 2}
            for name in WORKER_TYPES
        ],
    )
    assert response.status_code == 200, response.text
    register(client, CHILD)
    register(client, PARENT)
    ids = [client.post("/api/workflow/chaos_parent", json={"x": x}).text for x in range(RUNS)]
    inputs = dict(zip(ids, range(RUNS), strict=True))

    worker = ResilientWorker(server.url, pure_output, worker_id="chaos-worker")
    worker.start(WORKER_TYPES)
    # Each kill comes when a given share of the workers' results is in, so the kills fall early, in the middle
    # and late in the work, however fast the machine is.
    chance = random.Random(20261123)
    total_results = RUNS * WORKER_TASKS_PER_RUN
    acknowledged_at_kills: list[int] = []
    for share in KILL_AT_SHARES:
        deadline = time.monotonic() + 120
        while len(worker.acknowledged) < share * total_results and time.monotonic() < deadline:
            time.sleep(0.005)
        server.kill()
        acknowledged_at_kills.append(len(worker.acknowledged))
        time.sleep(chance.uniform(0.1, 0.5))
        server.start()

    pending = _wait_until_all_end(client, ids, timeout=240)
    worker.join()
    assert not pending, f"{len(pending)} runs did not end after the kills"
    # A result the server took just before a kill may never have reached the worker as a 200: not every
    # result is acknowledged, but the last kill must have come before the work was done.
    assert acknowledged_at_kills[-1] < total_results, acknowledged_at_kills

    for workflow_id in ids:
        run = client.get(f"/api/workflow/{workflow_id}").json()
        assert run["status"] == "COMPLETED", run
        assert run["output"] == expected_output(inputs[workflow_id])
        completed_refs = [t["referenceTaskName"] for t in run["tasks"] if t["status"] == "COMPLETED"]
        assert len(completed_refs) == len(set(completed_refs)), f"a step completed twice: {completed_refs}"
        loop_body = [ref for ref in completed_refs if _ITERATION_SUFFIX.search(ref)]
        assert len(loop_body) == LOOP_ITERATIONS, completed_refs
        subs = [t for t in run["tasks"] if t["referenceTaskName"] == "sub" and t["status"] == "COMPLETED"]
        child_id = subs[0]["outputData"]["subWorkflowId"]
        child = client.get(f"/api/workflow/{child_id}").json()
        assert child["status"] == "COMPLETED" and child["parentWorkflowId"] == workflow_id
        for task in (*run["tasks"], *child["tasks"]):
            if task["taskId"] not in worker.acknowledged:
                continue
            if task["status"] != "COMPLETED":
                # A result that came after its task timed out is answered 200 as Conductor does, not applied,
                # and said so in the task's log.
                logs = client.get(f"/api/tasks/{task['taskId']}/log").json()
                assert any("ignored" in entry["log"] for entry in logs), (task, logs)
                continue
            assert task["outputData"] == worker.acknowledged[task["taskId"]]
    client.close()
