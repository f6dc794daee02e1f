"""Elsa's event trigger over real HTTP, on both stores: it resumes WAIT and HUMAN steps waiting for the event (by
``inputParameters.event`` or by reference name) and starts runs of the definitions it triggers."""

from __future__ import annotations

from typing import Any

import httpx

from tests.elsa.support import ELSA
from tests.helpers import register, run_of, start, unique, wait_for_status


def _waiting(name: str, step: dict[str, Any]) -> dict[str, Any]:
    """``step`` (a WAIT or HUMAN), then an INLINE step echoing what the event brought."""
    return {
        "name": name,
        "version": 1,
        "tasks": [
            step,
            {
                "name": "echo",
                "taskReferenceName": "echo",
                "type": "INLINE",
                "inputParameters": {
                    "evaluatorType": "javascript",
                    "expression": "$.amount * 2",
                    "amount": "${" + step["taskReferenceName"] + ".output.amount}",
                },
            },
        ],
        "outputParameters": {"doubled": "${echo.output.result}"},
    }


def _trigger(client: httpx.Client, event: str, **body: Any) -> httpx.Response:
    return client.post(f"{ELSA}/events/{event}/trigger", json=body)


def test_an_event_resumes_the_steps_waiting_for_it_by_name_or_by_reference(client: httpx.Client) -> None:
    event = unique("payment.received")
    by_name, by_ref = unique("elsa_wait_named"), unique("elsa_wait_ref")
    ref = unique("paid")
    register(
        client,
        _waiting(by_name, {"name": "w", "taskReferenceName": "w", "type": "WAIT", "inputParameters": {"event": event}}),
    )
    register(client, _waiting(by_ref, {"name": "h", "taskReferenceName": ref, "type": "HUMAN"}))
    named = start(client, by_name)
    referenced = start(client, by_ref)
    untouched = start(client, by_name)

    response = _trigger(client, event, input={"amount": 21}, workflowInstanceId=named)
    assert (response.status_code, response.content) == (200, b"")
    assert wait_for_status(client, named, "COMPLETED")["output"] == {"doubled": 42}
    assert run_of(client, untouched)["status"] == "RUNNING"

    assert _trigger(client, ref, input={"amount": 5}, workflowExecutionMode="Synchronous").status_code == 200
    done = run_of(client, referenced)
    assert (done["status"], done["output"]) == ("COMPLETED", {"doubled": 10})
    assert done["tasks"][0]["outputData"] == {"amount": 5}


def test_an_event_filtered_by_correlation_id_resumes_only_those_runs(client: httpx.Client) -> None:
    event = unique("approved")
    name = unique("elsa_correlated")
    register(
        client,
        _waiting(name, {"name": "w", "taskReferenceName": "w", "type": "WAIT", "inputParameters": {"event": event}}),
    )
    mine = start(client, name, correlationId="order-1")
    other = start(client, name, correlationId="order-2")
    response = _trigger(
        client, event, correlationId="order-1", input={"amount": 1}, workflowExecutionMode="Synchronous"
    )
    assert response.status_code == 200, response.text
    assert run_of(client, mine)["status"] == "COMPLETED"
    assert run_of(client, other)["status"] == "RUNNING"


def test_an_event_starts_the_runs_whose_first_step_it_triggers(client: httpx.Client) -> None:
    event = unique("order.placed")
    name = unique("elsa_started_by_event")
    first = {
        "name": "w",
        "taskReferenceName": "w",
        "type": "WAIT",
        "inputParameters": {"event": event, "canStartWorkflow": True},
    }
    register(client, {**_waiting(name, first), "inputs": [{"name": "amount", "type": "Int32", "required": True}]})
    response = _trigger(client, event, input={"amount": 4}, correlationId="c-9", workflowExecutionMode="Synchronous")
    assert response.status_code == 200, response.text
    listed = client.get(f"{ELSA}/workflow-instances", params={"definitionId": name}).json()
    [item] = listed["items"]
    assert (item["subStatus"], item["correlationId"]) == ("Finished", "c-9")
    run = run_of(client, item["id"])
    assert (run["input"], run["output"]) == ({"amount": 4}, {"doubled": 8})

    refused = _trigger(client, event, input={"amount": "four"})
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"input.amount": ["expected a whole Number (Int32), got a String"]}
    assert client.get(f"{ELSA}/workflow-instances", params={"definitionId": name}).json()["totalCount"] == 1


def test_an_event_naming_a_run_starts_nothing(client: httpx.Client) -> None:
    event = unique("poke")
    name = unique("elsa_no_start")
    first = {
        "name": "w",
        "taskReferenceName": "w",
        "type": "WAIT",
        "inputParameters": {"event": event, "canStartWorkflow": True},
    }
    register(client, _waiting(name, first))
    existing = unique("someone-else")
    assert _trigger(client, event, workflowInstanceId=existing).status_code == 200
    assert client.get(f"{ELSA}/workflow-instances", params={"definitionId": name}).json()["totalCount"] == 0


def test_the_event_trigger_refuses_bad_fields(client: httpx.Client) -> None:
    event = unique("bad")
    for body, field in (
        ({"workflowExecutionMode": "Eventually"}, "workflowExecutionMode"),
        ({"input": "x"}, "input"),
        ({"correlationId": 7}, "correlationId"),
        ({"activityInstanceId": "abc"}, "activityInstanceId"),
    ):
        response = _trigger(client, event, **body)
        assert response.status_code == 400, body
        assert field in response.json()["errors"]
