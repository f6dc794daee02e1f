"""What a newcomer trips on first, over real HTTP on both stores: the sync execute's parameters, an idempotency key
without a strategy, a task status outside the enum, a body that is not JSON, and Conductor's not-found texts.

Each refusal is a 4xx naming the field at fault, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import register, simple_workflow, take, unique

pytestmark = pytest.mark.timeout(60)


def refused(response: httpx.Response, status: int, path: str, *parts: str) -> str:
    """The refusal's message for ``path``, after checking the status and that each of ``parts`` is in it."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    errors = {e["path"]: e["message"] for e in body.get("validationErrors", [])}
    assert path in errors, body
    for part in parts:
        assert part in errors[path], body
    message: str = errors[path]
    return message


def running(client: httpx.Client, name: str) -> list[str]:
    response = client.get(f"/api/workflow/running/{name}")
    assert response.status_code == 200, response.text
    ids: list[str] = response.json()
    return ids


def loop_then_step(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "tasks": [
            {
                "name": "loop",
                "taskReferenceName": "loop",
                "type": "DO_WHILE",
                "loopCondition": "false",
                "loopOver": [{"name": f"{name}_body", "taskReferenceName": "body", "type": "SIMPLE"}],
            },
            {"name": f"{name}_last", "taskReferenceName": "last", "type": "SIMPLE"},
        ],
    }


def test_execute_refuses_a_wait_until_ref_naming_no_task(client: httpx.Client) -> None:
    name = unique("exec_refs")
    register(client, loop_then_step(name))

    for style in ("params", "headers"):
        given = {"waitUntilTaskRef": "last,nope,loop, gone"}
        answer = client.post(f"/api/workflow/execute/{name}", json={}, **{style: given})  # type: ignore[arg-type]
        message = refused(answer, 400, "waitUntilTaskRef", f"workflow '{name}' version 1", "'gone', 'nope'")
        assert "'last'" not in message and "'loop'" not in message
    assert running(client, name) == []

    # A loop's iterations are named ref__N, and a name the definition has is taken.
    answer = client.post(
        f"/api/workflow/execute/{name}", json={}, params={"waitUntilTaskRef": "body__1", "waitForSeconds": "0"}
    )
    assert answer.status_code == 206, answer.text
    assert running(client, name) == [answer.json()["workflowId"]]


def test_execute_takes_the_text_none_for_no_wait_until_ref(client: httpx.Client) -> None:
    """conductor-python 2.0.0 sends its ``None`` as ``waitUntilTaskRef: None``: it means no task, not a task."""
    name = unique("exec_none")
    register(client, simple_workflow(name, [f"{name}_step"]))
    for text in ("None", "null"):
        answer = client.post(
            f"/api/workflow/execute/{name}", json={}, params={"waitUntilTaskRef": text, "waitForSeconds": "0"}
        )
        assert answer.status_code == 206, answer.text


def test_execute_refuses_a_wait_over_the_cap_naming_it(client: httpx.Client) -> None:
    name = unique("exec_cap")
    register(client, simple_workflow(name, [f"{name}_step"]))
    for wait in ("301", "-1"):
        answer = client.post(f"/api/workflow/execute/{name}", json={}, params={"waitForSeconds": wait})
        refused(answer, 400, "waitForSeconds", "between 0 and 300", "--max-wait-for-seconds", f"got {wait}")
    assert running(client, name) == []
    at_cap = client.post(f"/api/workflow/execute/{name}", json={}, params={"waitForSeconds": "0"})
    assert at_cap.status_code == 206, at_cap.text


def test_execute_of_an_unknown_workflow_uses_conductors_text(client: httpx.Client) -> None:
    name = unique("exec_nobody")
    answer = client.post(f"/api/workflow/execute/{name}", json={}, params={"waitUntilTaskRef": "x"})
    assert answer.status_code == 404, answer.text
    assert answer.json()["message"] == f"No such workflow found by name: {name}, version: null"
    answer = client.post(f"/api/workflow/execute/{name}/3", json={})
    assert answer.json()["message"] == f"No such workflow found by name: {name}, version: 3"


@pytest.mark.parametrize("header_style", [True, False])
def test_an_idempotency_key_without_a_strategy_means_fail(client: httpx.Client, header_style: bool) -> None:
    name = unique("idem_default")
    register(client, simple_workflow(name, [f"{name}_step"]))
    key = unique("key")

    def start() -> httpx.Response:
        if header_style:
            return client.post(f"/api/workflow/{name}", json={}, headers={"X-Idempotency-key": key})
        return client.post("/api/workflow", json={"name": name, "idempotencyKey": key})

    first = start()
    assert first.status_code == 200, first.text
    second = start()
    assert second.status_code == 409, second.text
    assert second.json()["message"] == f"Idempotency key '{key}' is already used by workflow {first.text}"
    assert running(client, name) == [first.text]


@pytest.mark.parametrize("route", ["/api/tasks", "/api/tasks/update-v2"])
def test_a_task_status_outside_the_enum_lists_the_allowed_ones(client: httpx.Client, route: str) -> None:
    name = unique("bad_status")
    task_type = f"{name}_step"
    register(client, simple_workflow(name, [task_type]))
    client.post(f"/api/workflow/{name}", json={})
    task = take(client, task_type)
    result = {"taskId": task["taskId"], "workflowInstanceId": task["workflowInstanceId"], "status": "DONE"}

    answer = client.post(route, json=result)

    refused(
        answer,
        400,
        "status",
        "Invalid enum value 'DONE'",
        "must be one of IN_PROGRESS, COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR",
    )
    after = client.get(f"/api/tasks/{task['taskId']}").json()
    assert (after["status"], after["outputData"]) == ("IN_PROGRESS", {})


def test_a_body_that_is_not_json_is_415(client: httpx.Client) -> None:
    name = unique("media")
    register(client, simple_workflow(name, [f"{name}_step"]))
    for headers, content in (
        ({"content-type": "application/x-www-form-urlencoded"}, b'{"a": 1}'),  # curl -d without -H
        ({"content-type": "text/plain"}, b'{"a": 1}'),
        ({"content-type": "multipart/form-data; boundary=x"}, b"--x--"),
    ):
        answer = client.post(f"/api/workflow/{name}", content=content, headers=headers)
        message = refused(answer, 415, "Content-Type", "send the body as JSON with Content-Type: application/json")
        assert headers["content-type"] in message
        refused(client.post("/api/metadata/taskdefs", content=content, headers=headers), 415, "Content-Type")
    assert running(client, name) == []

    # What clients send (and a bare client that names no type) is JSON; so is a vendor +json type.
    for headers in ({"content-type": "application/json; charset=utf-8"}, {}, {"content-type": "application/x+json"}):
        answer = client.post(f"/api/workflow/{name}", content=b'{"a": 1}', headers=headers)
        assert answer.status_code == 200, (headers, answer.text)
    # A body-less request names no type that matters.
    form = {"content-type": "application/x-www-form-urlencoded"}
    assert client.post(f"/api/workflow/{name}", content=b"", headers=form).status_code == 200


def test_not_found_and_conflicts_use_conductors_texts(client: httpx.Client) -> None:
    name = unique("texts")
    missing = unique("missing")

    def message(response: httpx.Response, status: int) -> str:
        assert response.status_code == status, response.text
        text: str = response.json()["message"]
        return text

    assert message(client.get(f"/api/workflow/{missing}"), 404) == f"Workflow with id: {missing} not found."
    terminate = client.delete(f"/api/workflow/{missing}", params={"reason": "x"})
    assert message(terminate, 404) == f"Workflow with id: {missing} not found."
    pause = client.put(f"/api/workflow/{missing}/pause")
    assert message(pause, 404) == f"Workflow with id: {missing} not found."
    assert message(client.get(f"/api/tasks/{missing}"), 404) == f"No such task found by id: {missing}"
    wf_def = client.get(f"/api/metadata/workflow/{missing}")
    assert message(wf_def, 404) == f"No such workflow found by name: {missing}, version: null"
    versioned = client.get(f"/api/metadata/workflow/{missing}", params={"version": 2})
    assert message(versioned, 404) == f"No such workflow found by name: {missing}, version: 2"
    started = client.post(f"/api/workflow/{missing}", json={})
    assert message(started, 404) == f"No such workflow found by name: {missing}, version: null"
    task_def = client.get(f"/api/metadata/taskdefs/{missing}")
    assert message(task_def, 404) == f"No such taskType found by name: {missing}"

    definition = simple_workflow(name, [f"{name}_step"])
    assert client.post("/api/metadata/workflow", json=definition).status_code == 200
    again = client.post("/api/metadata/workflow", json=definition)
    assert message(again, 409) == f"Workflow with {name}.1 already exists!"
