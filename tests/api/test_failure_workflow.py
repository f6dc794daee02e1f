"""WorkflowDef ``failureWorkflow``: a run that ends FAILED or TIMED_OUT starts it with the failed run's details."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.helpers import fail, register, run_of, start, take, wait_for_status


def failing_workflow(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": "risky",
                "taskReferenceName": "risky",
                "type": "SIMPLE",
                "taskDefinition": {"name": "risky", "retryCount": 0},
            }
        ],
        "failureWorkflow": "cleanup",
        **extra,
    }


CLEANUP = {
    "name": "cleanup",
    "version": 1,
    "tasks": [
        {
            "name": "note",
            "taskReferenceName": "note",
            "type": "SET_VARIABLE",
            "inputParameters": {"failed": "${workflow.input.workflowId}"},
        }
    ],
    "outputParameters": {"cleaned": "${workflow.input.workflowId}", "why": "${workflow.input.reason}"},
}


def wait_for_started(client: httpx.Client, workflow_id: str, status: str, timeout: float = 15.0) -> dict[str, Any]:
    """``wait_for_status`` for a run started after the failed run's decision: it may not exist for a moment."""
    deadline = time.monotonic() + timeout
    while client.get(f"/api/workflow/{workflow_id}/status").status_code == 404:
        assert time.monotonic() < deadline, f"{workflow_id} was never started"
        time.sleep(0.05)
    return wait_for_status(client, workflow_id, status, timeout)


def fail_risky(client: httpx.Client, reason: str = "card declined") -> dict[str, Any]:
    task = take(client, "risky", timeout_ms=5000)
    fail(client, task, reason)
    return task


def test_a_failed_run_starts_its_failure_workflow_with_its_details(client: httpx.Client) -> None:
    register(client, CLEANUP)
    register(client, failing_workflow("checkout"))
    workflow_id = start(client, "checkout", {"orderId": "o-1"}, correlationId="corr-7")
    task = fail_risky(client)
    failed = wait_for_status(client, workflow_id, "FAILED")
    failure_id = failed["output"]["conductor.failure_workflow"]
    cleanup = wait_for_started(client, failure_id, "COMPLETED")
    assert cleanup["workflowName"] == "cleanup"
    assert cleanup["correlationId"] == "corr-7"
    cleanup_input = cleanup["input"]
    assert cleanup_input["orderId"] == "o-1"
    assert cleanup_input["workflowId"] == workflow_id
    assert cleanup_input["reason"] == "card declined"
    assert cleanup_input["failureStatus"] == "FAILED"
    assert cleanup_input["failureTaskId"] == task["taskId"]
    assert cleanup_input["failedWorkflow"]["workflowId"] == workflow_id
    assert cleanup_input["failedWorkflow"]["status"] == "FAILED"
    assert cleanup["output"] == {"cleaned": workflow_id, "why": "card declined"}


def test_a_terminate_task_that_fails_the_run_starts_the_failure_workflow(client: httpx.Client) -> None:
    register(client, CLEANUP)
    register(
        client,
        {
            "name": "gives_up",
            "version": 1,
            "failureWorkflow": "cleanup",
            "tasks": [
                {
                    "name": "stop",
                    "taskReferenceName": "stop",
                    "type": "TERMINATE",
                    "inputParameters": {"terminationStatus": "FAILED", "terminationReason": "out of stock"},
                }
            ],
        },
    )
    failed = wait_for_status(client, start(client, "gives_up"), "FAILED")
    cleanup = wait_for_started(client, failed["output"]["conductor.failure_workflow"], "COMPLETED")
    assert cleanup["input"]["reason"] == "out of stock"


@pytest.mark.own_server
def test_completed_and_terminated_runs_start_no_failure_workflow(client: httpx.Client) -> None:
    register(client, CLEANUP)
    register(client, failing_workflow("checkout"))
    terminated_id = start(client, "checkout")
    assert client.delete(f"/api/workflow/{terminated_id}").status_code == 200
    terminated = run_of(client, terminated_id)
    assert terminated["status"] == "TERMINATED"
    assert "conductor.failure_workflow" not in terminated["output"]
    cleanups = client.get("/api/workflow/cleanup/correlated/none", params={"includeClosed": "true"})
    assert cleanups.json() == []


def test_an_unregistered_failure_workflow_is_recorded_as_conductor_does(client: httpx.Client) -> None:
    register(client, failing_workflow("checkout_nowhere", failureWorkflow="never_registered"))
    workflow_id = start(client, "checkout_nowhere")
    fail_risky(client)
    failed = wait_for_status(client, workflow_id, "FAILED")
    assert failed["reasonForIncompletion"] == "card declined"
    deadline = time.monotonic() + 15
    while True:
        recorded = run_of(client, workflow_id)["output"]["conductor.failure_workflow"]
        if recorded.startswith("Error workflow"):
            break
        assert client.get(f"/api/workflow/{recorded}").status_code == 404
        assert time.monotonic() < deadline, recorded
        time.sleep(0.05)
    assert recorded == (
        "Error workflow never_registered failed to start.  reason: "
        "No such workflow found by name: never_registered, version: null"
    )
    after = run_of(client, workflow_id)
    ignored = ("output", "updateTime")
    assert {k: v for k, v in after.items() if k not in ignored} == {k: v for k, v in failed.items() if k not in ignored}
    assert {k: v for k, v in after["output"].items() if k != "conductor.failure_workflow"} == {
        k: v for k, v in failed["output"].items() if k != "conductor.failure_workflow"
    }
    assert client.get("/health").status_code == 200


def test_a_failure_workflow_named_by_the_runs_input_is_started(client: httpx.Client) -> None:
    register(client, CLEANUP)
    register(client, failing_workflow("checkout_chosen", failureWorkflow="${workflow.input.onFailure}"))
    workflow_id = start(client, "checkout_chosen", {"onFailure": "cleanup"})
    fail_risky(client)
    failed = wait_for_status(client, workflow_id, "FAILED")
    cleanup = wait_for_started(client, failed["output"]["conductor.failure_workflow"], "COMPLETED")
    assert cleanup["workflowName"] == "cleanup" and cleanup["input"]["workflowId"] == workflow_id

    unnamed_id = start(client, "checkout_chosen", {})
    fail_risky(client)
    wait_for_status(client, unnamed_id, "FAILED")
    deadline = time.monotonic() + 15
    while not run_of(client, unnamed_id)["output"]["conductor.failure_workflow"].startswith("Error workflow"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    recorded = run_of(client, unnamed_id)["output"]["conductor.failure_workflow"]
    assert "failureWorkflow: ${workflow.input.onFailure} resolved to None" in recorded
