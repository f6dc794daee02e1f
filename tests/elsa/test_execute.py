"""Elsa's execute and dispatch over real HTTP, on both stores: runs that finish, suspend and fault."""

from __future__ import annotations

import json

import httpx

from tests.elsa.support import ELSA, failing, human, registered, worker_flow
from tests.helpers import adder, poll, register, run_of, unique


def test_execute_answers_the_finished_run_with_elsa_headers(client: httpx.Client) -> None:
    name = registered(client, adder, "elsa_add")
    response = client.post(
        f"{ELSA}/workflow-definitions/{name}/execute",
        json={"input": {"a": 2, "b": 3}, "correlationId": "order-7", "variables": {"seen": True}},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    state = body["workflowState"]
    assert body["instanceId"] == state["id"] == response.headers["x-elsa-workflow-instance-id"]
    assert response.headers["x-elsa-workflow-cannot-start"] == "False"
    assert response.headers["x-elsa-response"] == "true"
    assert (state["status"], state["subStatus"]) == ("Finished", "Finished")
    assert (state["definitionId"], state["definitionVersion"]) == (name, 1)
    assert state["definitionVersionId"] == f"{name}:1"
    assert state["correlationId"] == "order-7"
    assert state["input"] == {"a": 2, "b": 3}
    assert state["output"] == {"sum": 5}
    assert state["properties"]["variables"] == {"seen": True}
    assert state["bookmarks"] == [] and state["incidents"] == []
    assert state["createdAt"].endswith("+00:00") and "finishedAt" in state
    run = run_of(client, body["instanceId"])
    assert (run["status"], run["correlationId"]) == ("COMPLETED", "order-7")


def test_execute_of_a_run_waiting_on_a_person_is_suspended_with_its_bookmark(client: httpx.Client) -> None:
    name = registered(client, human, "elsa_human")
    response = client.post(f"{ELSA}/workflow-definitions/{name}/execute")
    assert response.status_code == 200, response.text
    state = response.json()["workflowState"]
    assert (state["status"], state["subStatus"]) == ("Running", "Suspended")
    assert "finishedAt" not in state
    [bookmark] = state["bookmarks"]
    assert (bookmark["name"], bookmark["activityId"]) == ("HUMAN", "review")
    run = run_of(client, state["id"])
    assert bookmark["id"] == run["tasks"][0]["taskId"]


def test_execute_of_a_run_waiting_on_a_worker_answers_at_once_suspended(client: httpx.Client) -> None:
    task_type = unique("elsa_work")
    name = registered(client, worker_flow, "elsa_worker", task_type)
    response = client.post(f"{ELSA}/workflow-definitions/{name}/execute", timeout=5)
    assert response.status_code == 200, response.text
    state = response.json()["workflowState"]
    assert state["subStatus"] == "Suspended"
    assert [b["name"] for b in state["bookmarks"]] == [task_type]
    [task] = poll(client, task_type)
    assert task["workflowInstanceId"] == state["id"]


def test_execute_of_a_run_that_faults_answers_500_with_its_state(client: httpx.Client) -> None:
    name = registered(client, failing, "elsa_fail")
    response = client.post(f"{ELSA}/workflow-definitions/{name}/execute", json={})
    assert response.status_code == 500, response.text
    body = response.json()
    state = body["workflowState"]
    assert (state["status"], state["subStatus"]) == ("Finished", "Faulted")
    assert response.headers["x-elsa-workflow-instance-id"] == body["instanceId"]
    assert state["incidents"] and "no stock" in state["incidents"][0]["message"]


def test_get_execute_reads_its_input_from_the_query(client: httpx.Client) -> None:
    name = registered(client, adder, "elsa_get")
    response = client.get(
        f"{ELSA}/workflow-definitions/{name}/execute",
        params={"input": json.dumps({"a": 40, "b": 2}), "correlationId": "q-1", "versionOptions": "Latest"},
    )
    assert response.status_code == 200, response.text
    state = response.json()["workflowState"]
    assert (state["output"], state["correlationId"]) == ({"sum": 42}, "q-1")
    bad = client.get(f"{ELSA}/workflow-definitions/{name}/execute", params={"input": "[1]"})
    assert bad.status_code == 400
    assert "input" in bad.json()["errors"]


def test_execute_picks_the_version_versionoptions_names(client: httpx.Client) -> None:
    name = unique("elsa_versions")
    register(client, adder(name))
    register(client, {**adder(name), "version": 2})
    for options, version in (("Published", 2), ("Latest", 2), (1, 1), ("1", 1), (None, 2)):
        body = {"input": {"a": 1, "b": 1}} if options is None else {"versionOptions": options}
        response = client.post(f"{ELSA}/workflow-definitions/{name}/execute", json=body)
        assert response.status_code == 200, (options, response.text)
        assert response.json()["workflowState"]["definitionVersion"] == version
    refused = client.post(f"{ELSA}/workflow-definitions/{name}/execute", json={"versionOptions": "Draft"})
    assert refused.status_code == 400
    assert refused.json()["statusCode"] == 400
    assert "versionOptions" in refused.json()["errors"]
    missing = client.post(f"{ELSA}/workflow-definitions/{name}/execute", json={"versionOptions": 9})
    assert (missing.status_code, missing.content) == (404, b"")


def test_execute_reads_the_body_only_as_json_and_refuses_json_that_does_not_parse(client: httpx.Client) -> None:
    name = registered(client, adder, "elsa_body")
    as_text = client.post(
        f"{ELSA}/workflow-definitions/{name}/execute", content=b"not json", headers={"content-type": "text/plain"}
    )
    assert as_text.status_code == 200, as_text.text
    assert as_text.json()["workflowState"]["input"] == {}
    broken = client.post(
        f"{ELSA}/workflow-definitions/{name}/execute",
        content=b"{not json",
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert broken.status_code == 400
    assert broken.json() == {
        "statusCode": 400,
        "message": "One or more errors occurred!",
        "errors": {"generalErrors": ["Invalid request body."]},
    }


def test_execute_of_an_unknown_definition_is_404_with_an_empty_body(client: httpx.Client) -> None:
    response = client.post(f"{ELSA}/workflow-definitions/{unique('nothing')}/execute", json={})
    assert (response.status_code, response.content) == (404, b"")


def test_execute_refuses_a_trigger_activity_that_is_not_the_first_step(client: httpx.Client) -> None:
    name = registered(client, adder, "elsa_trigger")
    first = client.post(f"{ELSA}/workflow-definitions/{name}/execute", json={"triggerActivityId": "add"})
    assert first.status_code == 200, first.text
    other = client.post(f"{ELSA}/workflow-definitions/{name}/execute", json={"triggerActivityId": "later"})
    assert other.status_code == 400
    assert "triggerActivityId" in other.json()["errors"]


def test_dispatch_answers_the_id_at_once_and_refuses_a_taken_instance_id(client: httpx.Client) -> None:
    name = registered(client, human, "elsa_dispatch")
    response = client.post(f"{ELSA}/workflow-definitions/{name}/dispatch", json={"correlationId": "d-1"})
    assert response.status_code == 200, response.text
    workflow_id = response.json()["workflowInstanceId"]
    assert set(response.json()) == {"workflowInstanceId"}
    assert run_of(client, workflow_id)["correlationId"] == "d-1"
    chosen = unique("my-instance")
    mine = client.post(f"{ELSA}/workflow-definitions/{name}/dispatch", json={"instanceId": chosen})
    assert mine.status_code == 200, mine.text
    assert mine.json() == {"workflowInstanceId": chosen}
    assert run_of(client, chosen)["workflowName"] == name
    again = client.post(f"{ELSA}/workflow-definitions/{name}/dispatch", json={"instanceId": chosen})
    assert again.status_code == 409
    assert again.json()["statusCode"] == 409


def test_dispatch_refuses_an_input_that_is_not_a_dictionary(client: httpx.Client) -> None:
    name = registered(client, human, "elsa_dispatch_input")
    response = client.post(f"{ELSA}/workflow-definitions/{name}/dispatch", json={"input": [1, 2]})
    assert response.status_code == 400
    assert response.json()["errors"] == {"input": ["Input must be a dictionary."]}
    unknown = client.post(f"{ELSA}/workflow-definitions/{unique('nothing')}/dispatch", json={})
    assert (unknown.status_code, unknown.content) == (404, b"")


def test_execute_sends_the_response_the_workflow_wrote(client: httpx.Client) -> None:
    """A completed HTTP_RESPONSE step's ``statusCode``, ``headers`` and ``body`` are the answer, not the state."""
    name = unique("elsa_writes")
    written = {"statusCode": 201, "headers": {"x-order": "42"}, "body": {"ok": True}}
    step = {"name": "respond", "taskReferenceName": "respond", "type": "HTTP_RESPONSE", "inputParameters": written}
    register(client, {"name": name, "version": 1, "tasks": [step]})
    response = client.post(f"{ELSA}/workflow-definitions/{name}/execute", json={})
    assert response.status_code == 201, response.text
    assert response.json() == {"ok": True}
    assert response.headers["x-order"] == "42"
    assert run_of(client, response.headers["x-elsa-workflow-instance-id"])["status"] == "COMPLETED"
