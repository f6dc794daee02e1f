"""EVENT tasks with a webhook sink, posted by the server to a real local HTTP server."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.http_target import HttpTarget, http_target
from tests.helpers import register, start, wait_for_status

__all__ = ["http_target"]


def event_workflow(name: str, sink: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": "notify",
                "taskReferenceName": "notify",
                "type": "EVENT",
                "sink": sink,
                "inputParameters": {"orderId": "${workflow.input.orderId}", "kind": "shipped"},
            }
        ],
    }


def test_a_webhook_event_posts_the_task_input_and_completes(client: httpx.Client, http_target: HttpTarget) -> None:
    register(client, event_workflow("event_ok", f"webhook:{http_target.url}/json/hook"))
    workflow_id = start(client, "event_ok", {"orderId": "o-1"}, correlationId="c-9")
    run = wait_for_status(client, workflow_id, "COMPLETED")
    [seen] = http_target.requests_to("/json/hook")
    assert seen.method == "POST"
    assert seen.headers["Content-Type"] == "application/json"
    payload = seen.json()
    assert payload == {
        "orderId": "o-1",
        "kind": "shipped",
        "sink": f"webhook:{http_target.url}/json/hook",
        "workflowInstanceId": workflow_id,
        "workflowType": "event_ok",
        "workflowVersion": 1,
        "correlationId": "c-9",
    }
    [task] = run["tasks"]
    assert task["taskType"] == "EVENT" and task["status"] == "COMPLETED"
    assert task["outputData"] == {**payload, "event_produced": f"webhook:{http_target.url}/json/hook"}


def test_a_failing_webhook_is_retried_then_fails_the_task(client: httpx.Client, http_target: HttpTarget) -> None:
    register(client, event_workflow("event_down", f"webhook:{http_target.url}/status/502"))
    run = wait_for_status(client, start(client, "event_down", {"orderId": "o-2"}), "FAILED")
    assert len(http_target.requests_to("/status/502")) == 3
    [task] = run["tasks"]
    assert task["status"] == "FAILED"
    assert "502" in task["reasonForIncompletion"]


def test_a_webhook_that_recovers_within_the_attempts_completes(client: httpx.Client, http_target: HttpTarget) -> None:
    register(client, event_workflow("event_flaky", f"webhook:{http_target.url}/flaky/1"))
    wait_for_status(client, start(client, "event_flaky", {"orderId": "o-3"}), "COMPLETED")
    assert len(http_target.requests_to("/flaky/1")) == 2


def test_an_event_task_without_a_sink_is_refused_at_registration_naming_the_field(client: httpx.Client) -> None:
    """Conductor refuses only a missing sink; one Baton cannot reach fails when the task runs
    (``test_conductor_events.py``)."""
    for sink in (None, "", "  ", 7):
        definition = event_workflow("event_bad", "x")
        definition["tasks"][0]["sink"] = sink
        if sink is None:
            del definition["tasks"][0]["sink"]
        response = client.post("/api/metadata/workflow", json=definition)
        assert response.status_code == 400, response.text
        assert [e["path"] for e in response.json()["validationErrors"]] == ["tasks[0].sink"]
    assert client.get("/api/metadata/workflow/event_bad").status_code == 404
