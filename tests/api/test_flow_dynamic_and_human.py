"""DYNAMIC, HUMAN and NOOP over the wire, on both stores."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import complete, poll, register, run_of, start, wait_for_status

pytestmark = pytest.mark.timeout(120)


def test_a_dynamic_task_runs_the_worker_its_input_names(client: httpx.Client) -> None:
    register(
        client,
        {
            "name": "notify",
            "tasks": [
                {
                    "name": "send",
                    "taskReferenceName": "send",
                    "type": "DYNAMIC",
                    "dynamicTaskNameParam": "channel",
                    "inputParameters": {"channel": "${workflow.input.channel}", "to": "${workflow.input.to}"},
                },
                {"name": "done", "taskReferenceName": "done", "type": "NOOP"},
            ],
            "outputParameters": {"sent": "${send.output.sent}"},
        },
    )
    workflow_id = start(client, "notify", {"channel": "send_sms", "to": "+100"})
    [task] = poll(client, "send_sms")
    assert task["referenceTaskName"] == "send" and task["inputData"]["to"] == "+100"
    assert complete(client, task, {"sent": True}).status_code == 200
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert run["output"] == {"sent": True}
    assert [t["status"] for t in run["tasks"]] == ["COMPLETED", "COMPLETED"]

    missing = start(client, "notify", {"to": "+100"})
    run = wait_for_status(client, missing, "FAILED")
    assert "channel" in run["reasonForIncompletion"]


def test_a_human_task_waits_until_completed_through_the_api(client: httpx.Client) -> None:
    register(
        client,
        {
            "name": "approval",
            "tasks": [
                {"name": "review", "taskReferenceName": "review", "type": "HUMAN"},
                {"name": "sign", "taskReferenceName": "sign", "type": "HUMAN"},
            ],
            "outputParameters": {"by": "${review.output.by}", "signed": "${sign.output.signed}"},
        },
    )
    workflow_id = start(client, "approval")
    run = run_of(client, workflow_id)
    assert [(t["referenceTaskName"], t["status"]) for t in run["tasks"]] == [("review", "IN_PROGRESS")]
    assert poll(client, "HUMAN", timeout_ms=0) == [], "a HUMAN task is not handed to workers"

    response = client.post(f"/api/tasks/{workflow_id}/review/COMPLETED", json={"by": "ann"})
    assert response.status_code == 200, response.text
    sign = next(t for t in run_of(client, workflow_id)["tasks"] if t["referenceTaskName"] == "sign")
    assert sign["status"] == "IN_PROGRESS"
    response = client.post(
        "/api/tasks",
        json={
            "taskId": sign["taskId"],
            "workflowInstanceId": workflow_id,
            "status": "COMPLETED",
            "outputData": {"signed": True},
        },
    )
    assert response.status_code == 200, response.text
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert run["output"] == {"by": "ann", "signed": True}
    again = client.post(f"/api/tasks/{workflow_id}/review/COMPLETED", json={"late": True})
    assert again.status_code == 200  # ignored (the step ended), as Conductor does
    assert run_of(client, workflow_id)["output"] == {"by": "ann", "signed": True}
