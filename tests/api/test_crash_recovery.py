"""Invariant 1 and 2 under SIGKILL: nothing acknowledged is lost, and no result is applied twice."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import ServerProcess
from tests.helpers import ResilientWorker, register, simple_workflow

RUNS = 200
STEPS = ["crash_a", "crash_b", "crash_c"]


def token_output(task: dict[str, Any]) -> dict[str, Any]:
    """The task's own id as a token, and what the step before it produced, as the step's input saw it."""
    return {"token": task["taskId"], "seen": task["inputData"].get("previous")}


@pytest.mark.slow
@pytest.mark.own_server
def test_sigkill_in_the_middle_of_200_runs_loses_nothing(server: ServerProcess) -> None:
    client = server.client(timeout=30)
    client.post(
        "/api/metadata/taskdefs",
        json=[{"name": s, "retryCount": 5, "retryDelaySeconds": 0, "responseTimeoutSeconds": 2} for s in STEPS],
    )
    register(client, simple_workflow("crashy", STEPS))
    ids = [client.post("/api/workflow/crashy", json={"x": i}).text for i in range(RUNS)]

    worker = ResilientWorker(server.url, token_output, worker_id="crash-worker")
    worker.start(STEPS)
    deadline = time.monotonic() + 30
    while len(worker.acknowledged) < RUNS and time.monotonic() < deadline:
        time.sleep(0.01)
    server.kill()
    acknowledged_before_kill = dict(worker.acknowledged)
    time.sleep(0.5)
    server.start()

    deadline = time.monotonic() + 90
    pending = set(ids)
    while pending and time.monotonic() < deadline:
        for workflow_id in list(pending):
            status = client.get(f"/api/workflow/{workflow_id}/status").json()["status"]
            if status != "RUNNING":
                pending.discard(workflow_id)
        time.sleep(0.2)
    worker.join()
    assert not pending, f"{len(pending)} runs did not finish after the restart"
    assert acknowledged_before_kill, "the kill came before any step was acknowledged: the test proved nothing"

    for workflow_id in ids:
        run = client.get(f"/api/workflow/{workflow_id}").json()
        assert run["status"] == "COMPLETED", run
        completed = [t for t in run["tasks"] if t["status"] == "COMPLETED"]
        assert [t["referenceTaskName"] for t in completed] == [f"{s}_{i}" for i, s in enumerate(STEPS)]
        for index, task in enumerate(completed):
            # Applied exactly once: the stored output is the one its own attempt produced, and the next
            # step saw exactly that output.
            assert task["outputData"]["token"] == task["taskId"]
            if index + 1 < len(completed):
                assert completed[index + 1]["inputData"]["previous"] == task["outputData"]
        for task in run["tasks"]:
            if task["taskId"] in acknowledged_before_kill:
                assert task["status"] == "COMPLETED"
                assert task["outputData"] == acknowledged_before_kill[task["taskId"]]
    client.close()
