"""Registration accepts what Conductor accepts, and fails at run time with a clear reason, over real HTTP.

A fork without a JOIN (conductor-python's trailing ``>> [[a], [b]]``), an embedded ``taskDefinition``
without a name, an HTTP task whose ``uri`` is no URL, task types Baton does not run. What Conductor
refuses stays refused, including a ``subWorkflowParam.version`` that is not a whole number.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import poll, register, run_of, start, unique, wait_for_status, worker


def refused(client: httpx.Client, definition: dict[str, Any]) -> list[tuple[str, str]]:
    response = client.post("/api/metadata/workflow", json=definition)
    assert response.status_code == 400, response.text
    assert client.get(f"/api/metadata/workflow/{definition['name']}").status_code == 404
    return [(e["path"], e["message"]) for e in response.json()["validationErrors"]]


def complete_one(client: httpx.Client, task_type: str) -> dict[str, Any]:
    (task,) = poll(client, task_type, timeout_ms=5_000)
    done = {"taskId": task["taskId"], "workflowInstanceId": task["workflowInstanceId"], "status": "COMPLETED"}
    assert client.post("/api/tasks", json={**done, "outputData": {"by": task_type}}).status_code == 200
    return task


def test_a_fork_without_a_join_runs_its_branches_beside_the_next_steps(client: httpx.Client) -> None:
    a, b, after, name = unique("branch_a"), unique("branch_b"), unique("after_fork"), unique("joinless")
    fork = {
        "name": "fork",
        "taskReferenceName": "fork",
        "type": "FORK_JOIN",
        "forkTasks": [[worker("a", a)], [worker("b", b)]],
    }
    register(client, {"name": name, "version": 1, "tasks": [fork, worker("after", after)]})
    workflow_id = start(client, name)
    complete_one(client, after)  # scheduled at once, beside the branches
    complete_one(client, a)
    assert run_of(client, workflow_id)["status"] == "RUNNING"
    complete_one(client, b)
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert [t["referenceTaskName"] for t in run["tasks"]] == ["fork", "a", "b", "after"]


def test_a_trailing_fork_without_a_join_ends_the_run_with_its_branches(client: httpx.Client) -> None:
    first, a, b, name = unique("first"), unique("tail_a"), unique("tail_b"), unique("trailing_fork")
    fork = {
        "name": "fork",
        "taskReferenceName": "fork",
        "type": "FORK_JOIN",
        "forkTasks": [[worker("a", a)], [worker("b", b)]],
    }
    register(client, {"name": name, "version": 1, "tasks": [worker("first", first), fork]})
    workflow_id = start(client, name)
    complete_one(client, first)
    complete_one(client, b)
    assert run_of(client, workflow_id)["status"] == "RUNNING"
    complete_one(client, a)
    wait_for_status(client, workflow_id, "COMPLETED")


def test_an_embedded_task_definition_without_a_name_takes_its_steps(client: httpx.Client) -> None:
    charge, name = unique("charge"), unique("embedded_def")
    step = worker(
        "charge", charge, taskDefinition={"retryCount": 1, "retryDelaySeconds": 0, "responseTimeoutSeconds": 30}
    )
    register(client, {"name": name, "version": 1, "tasks": [step]})
    stored = client.get(f"/api/metadata/workflow/{name}").json()
    assert stored["tasks"][0]["taskDefinition"]["name"] == charge
    workflow_id = start(client, name)
    (task,) = poll(client, charge)
    assert task["responseTimeoutSeconds"] == 30
    failed = {"taskId": task["taskId"], "workflowInstanceId": workflow_id, "status": "FAILED"}
    assert client.post("/api/tasks", json=failed).status_code == 200
    complete_one(client, charge)  # its retryCount (1) gave a retry
    wait_for_status(client, workflow_id, "COMPLETED")


@pytest.mark.parametrize("uri", ["not a url", "ftp://example.com/file", "http://", None])
def test_an_http_task_whose_uri_is_no_url_fails_when_it_runs(client: httpx.Client, uri: str | None) -> None:
    name = unique("bad_uri")
    request = {"method": "GET"} if uri is None else {"uri": uri, "method": "GET"}
    call = {"name": "call", "taskReferenceName": "call", "type": "HTTP", "inputParameters": {"http_request": request}}
    register(client, {"name": name, "version": 1, "tasks": [call]})
    run = wait_for_status(client, start(client, name), "FAILED")
    (task,) = run["tasks"]
    assert task["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert "http_request.uri" in task["reasonForIncompletion"]
    assert run["reasonForIncompletion"] == task["reasonForIncompletion"]


def test_an_optional_http_task_whose_uri_is_no_url_lets_the_run_go_on(client: httpx.Client) -> None:
    after, name = unique("after_http"), unique("optional_bad_uri")
    request = {"uri": "not a url", "method": "GET"}
    call = {
        "name": "call",
        "taskReferenceName": "call",
        "type": "HTTP",
        "optional": True,
        "inputParameters": {"http_request": request},
    }
    register(client, {"name": name, "version": 1, "tasks": [call, worker("after", after)]})
    workflow_id = start(client, name)
    complete_one(client, after)
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert [t["status"] for t in run["tasks"]] == ["COMPLETED_WITH_ERRORS", "COMPLETED"]
    assert "not a url" in run["tasks"][0]["reasonForIncompletion"]


@pytest.mark.parametrize("kind", ["LLM_CHAT_COMPLETE", "KAFKA_PUBLISH", "GET_DOCUMENT"])
def test_a_task_type_baton_does_not_run_is_accepted_and_fails_when_reached(client: httpx.Client, kind: str) -> None:
    name = unique("unsupported")
    step = {"name": kind.lower(), "taskReferenceName": "x", "type": kind, "inputParameters": {"llmProvider": "p"}}
    register(client, {"name": name, "version": 1, "tasks": [step]})
    assert client.get(f"/api/metadata/workflow/{name}").json()["tasks"][0]["type"] == kind
    run = wait_for_status(client, start(client, name), "FAILED")
    (task,) = run["tasks"]
    assert (task["status"], task["retryCount"]) == ("FAILED_WITH_TERMINAL_ERROR", 0)
    assert task["reasonForIncompletion"] == f"Task type {kind} is not supported by Baton"


def test_an_optional_unsupported_task_lets_the_run_go_on(client: httpx.Client) -> None:
    after, name = unique("after_kafka"), unique("optional_kafka")
    publish = {"name": "publish", "taskReferenceName": "publish", "type": "KAFKA_PUBLISH", "optional": True}
    register(client, {"name": name, "version": 1, "tasks": [publish, worker("after", after)]})
    workflow_id = start(client, name)
    complete_one(client, after)
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert run["tasks"][0]["status"] == "COMPLETED_WITH_ERRORS"


def test_what_conductor_refuses_stays_refused(client: httpx.Client) -> None:
    name = unique("still_refused")
    no_name = {"taskReferenceName": "a", "type": "SIMPLE"}
    assert refused(client, {"name": name, "tasks": [no_name]})[0][0] == "tasks[0].name"
    duplicate = [worker("a", "one"), worker("a", "two")]
    assert refused(client, {"name": name, "tasks": duplicate}) == [
        ("tasks[1].taskReferenceName", "'a' is already used at tasks[0].taskReferenceName")
    ]
    blank_ref = [worker("", "one")]
    assert refused(client, {"name": name, "tasks": blank_ref})[0][0] == "tasks[0].taskReferenceName"
    unknown = [{"name": "x", "taskReferenceName": "x", "type": "SWTICH"}]
    assert refused(client, {"name": name, "tasks": unknown})[0][0] == "tasks[0].type"
    named_def = [worker("a", "one", taskDefinition={"name": "", "retryCount": 1})]
    register(client, {"name": name, "version": 1, "tasks": named_def})  # a blank name is taken from the step
    client.delete(f"/api/metadata/workflow/{name}/1")


@pytest.mark.parametrize("version", ["${workflow.input.v}", "latest", "2.5", -1, 0])
def test_a_sub_workflow_version_that_is_not_a_whole_number_is_refused(client: httpx.Client, version: Any) -> None:
    name = unique("sub_version")
    step = {
        "name": "child",
        "taskReferenceName": "child",
        "type": "SUB_WORKFLOW",
        "subWorkflowParam": {"name": "some_child", "version": version},
    }
    errors = refused(client, {"name": name, "version": 1, "tasks": [step]})
    assert [path for path, _ in errors] == ["tasks[0].subWorkflowParam.version"]
    assert "whole number" in errors[0][1]
