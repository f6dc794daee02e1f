"""``${workflow.secrets.<name>}`` in a step's input: the one that runs the task gets the value (a worker's poll,
the server's HTTP executor), everyone else reads ``***``; a missing secret fails the task naming it."""

from __future__ import annotations

from typing import Any

import httpx

from tests.api.http_target import HttpTarget, http_target
from tests.helpers import (
    complete,
    dynamic_fork_steps,
    register,
    run_of,
    start,
    take,
    task_defs,
    unique,
    wait_for_status,
)

__all__ = ["http_target"]


def _secret(client: httpx.Client) -> tuple[str, str]:
    name, value = unique("tok"), "v4lue-" + unique("s3cret")
    assert client.put(f"/api/secrets/{name}", json=value).status_code == 200
    return name, value


def _worker_flow(name: str, task_type: str, inputs: dict[str, Any]) -> dict[str, Any]:
    step = {"name": task_type, "taskReferenceName": "work", "type": "SIMPLE", "inputParameters": inputs}
    return {"name": name, "version": 1, "tasks": [step], "outputParameters": {"seen": "${work.input}"}}


def test_a_worker_gets_the_value_and_every_read_shows_the_mask(client: httpx.Client) -> None:
    secret, value = _secret(client)
    flow, task_type = unique("secret_worker"), unique("secret_work")
    inputs = {
        "whole": f"${{workflow.secrets.{secret}}}",
        "auth": f"Bearer ${{workflow.secrets.{secret}}}",
        "nested": {"list": [f"${{workflow.input.user}}:${{workflow.secrets.{secret}}}/${{workflow.input.n}}"]},
        "user": "${workflow.input.user}",
        "escaped": f"$${{workflow.secrets.{secret}}}",
    }
    register(client, _worker_flow(flow, task_type, inputs))
    workflow_id = start(client, flow, {"user": "alice", "n": 7})

    task = take(client, task_type)
    assert task["inputData"] == {
        "whole": value,
        "auth": f"Bearer {value}",
        "nested": {"list": [f"alice:{value}/7"]},
        "user": "alice",
        "escaped": f"${{workflow.secrets.{secret}}}",  # the escape is literal text, not a reference
    }
    masked = {
        "whole": "***",
        "auth": "Bearer ***",
        "nested": {"list": ["alice:***/7"]},
        "user": "alice",
        "escaped": f"${{workflow.secrets.{secret}}}",
    }
    assert client.get(f"/api/tasks/{task['taskId']}").json()["inputData"] == masked
    assert complete(client, task, {"done": True}).status_code == 200
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert run["tasks"][0]["inputData"] == masked
    assert run["output"] == {"seen": masked}
    assert value not in httpx.get(f"{client.base_url}/api/workflow/{workflow_id}", headers=client.headers).text


def test_the_next_task_handed_out_with_a_result_gets_its_value(client: httpx.Client) -> None:
    secret, value = _secret(client)
    flow, task_type = unique("secret_v2"), unique("secret_v2_work")
    steps = [
        {
            "name": task_type,
            "taskReferenceName": ref,
            "type": "SIMPLE",
            "inputParameters": {"key": f"${{workflow.secrets.{secret}}}"},
        }
        for ref in ("first", "second")
    ]
    register(client, {"name": flow, "version": 1, "tasks": steps})
    workflow_id = start(client, flow, {})
    first = take(client, task_type)
    assert first["inputData"] == {"key": value}
    result = {"taskId": first["taskId"], "workflowInstanceId": workflow_id, "status": "COMPLETED", "workerId": "w"}
    second = client.post("/api/tasks/update-v2", json=result)
    assert second.status_code == 200, second.text
    assert second.json()["referenceTaskName"] == "second" and second.json()["inputData"] == {"key": value}


def test_data_in_a_run_cannot_ask_for_a_secret(client: httpx.Client) -> None:
    secret, value = _secret(client)
    flow, task_type = unique("secret_injection"), unique("secret_injection_work")
    register(client, _worker_flow(flow, task_type, {"note": "${workflow.input.note}"}))
    reference = f"${{workflow.secrets.{secret}}}"
    start(client, flow, {"note": reference})
    task = take(client, task_type)
    assert task["inputData"] == {"note": reference}
    assert value not in str(task)
    complete(client, task)


def test_a_step_a_dynamic_fork_makes_from_a_runs_input_cannot_ask_for_a_secret(client: httpx.Client) -> None:
    secret, value = _secret(client)
    flow, task_type = unique("secret_fork"), unique("secret_fork_work")
    register(client, {"name": flow, "version": 1, "tasks": dynamic_fork_steps()})
    reference = f"${{workflow.secrets.{secret}}}"
    branch = {"name": task_type, "taskReferenceName": "b1", "type": "SIMPLE", "inputParameters": {"k": reference}}
    workflow_id = start(client, flow, {"tasks": [branch], "inputs": {"b1": {"k": reference}}})
    task = take(client, task_type)
    assert value not in str(task) and task["inputData"]["k"] in (reference, "***")
    assert complete(client, task).status_code == 200
    wait_for_status(client, workflow_id, "COMPLETED")


def test_a_missing_secret_fails_the_task_naming_it(client: httpx.Client) -> None:
    flow, task_type, missing = unique("secret_missing"), unique("secret_missing_work"), unique("nowhere")
    task_defs(client, {"name": task_type, "retryCount": 0})
    register(client, _worker_flow(flow, task_type, {"key": f"${{workflow.secrets.{missing}}}"}))
    workflow_id = start(client, flow, {})
    polled = client.get(f"/api/tasks/poll/batch/{task_type}", params={"timeout": 500})
    assert polled.status_code == 200 and polled.json() == []
    run = wait_for_status(client, workflow_id, "FAILED")
    [task] = run["tasks"]
    assert task["status"] == "FAILED"
    assert missing in task["reasonForIncompletion"] and "do not exist" in task["reasonForIncompletion"]


def test_an_http_task_sends_the_value_and_keeps_it_out_of_its_output_and_errors(
    client: httpx.Client, http_target: HttpTarget
) -> None:
    secret, value = _secret(client)
    flow = unique("secret_http")
    request = {
        "uri": f"{http_target.url}/json/call?key=${{workflow.secrets.{secret}}}",
        "method": "POST",
        "headers": {"Authorization": f"Bearer ${{workflow.secrets.{secret}}}"},
        "body": {"token": f"${{workflow.secrets.{secret}}}", "n": 1},
    }
    step = {"name": "call", "taskReferenceName": "call", "type": "HTTP", "inputParameters": {"http_request": request}}
    register(client, {"name": flow, "version": 1, "tasks": [step], "outputParameters": {"r": "${call.output}"}})
    workflow_id = start(client, flow, {})
    run = wait_for_status(client, workflow_id, "COMPLETED")

    [seen] = http_target.requests_to(f"/json/call?key={value}")
    assert seen.headers["Authorization"] == f"Bearer {value}"
    assert seen.json() == {"token": value, "n": 1}
    [task] = run["tasks"]
    # The target echoed the path, key and all: Baton made the call, so its answer is masked too.
    assert task["outputData"]["response"]["body"]["path"] == "/json/call?key=***"
    assert task["inputData"]["http_request"]["headers"] == {"Authorization": "Bearer ***"}
    assert value not in run_of(client, workflow_id).__repr__()

    # A failing call's reason names its URL: masked.
    failing = unique("secret_http_fail")
    request = {"uri": f"{http_target.url}/missing?key=${{workflow.secrets.{secret}}}", "method": "GET"}
    step = {"name": "call", "taskReferenceName": "call", "type": "HTTP", "inputParameters": {"http_request": request}}
    register(client, {"name": failing, "version": 1, "tasks": [step]})
    failed = wait_for_status(client, start(client, failing, {}), "FAILED")
    reason = failed["tasks"][0]["reasonForIncompletion"]
    assert "answered 404" in reason and "key=***" in reason and value not in str(failed)


def test_an_http_task_naming_a_missing_secret_fails_naming_it(client: httpx.Client, http_target: HttpTarget) -> None:
    flow, missing = unique("secret_http_missing"), unique("absent")
    request = {"uri": f"{http_target.url}/json/x", "headers": {"X-Key": f"${{workflow.secrets.{missing}}}"}}
    step = {"name": "call", "taskReferenceName": "call", "type": "HTTP", "inputParameters": {"http_request": request}}
    register(client, {"name": flow, "version": 1, "tasks": [step]})
    run = wait_for_status(client, start(client, flow, {}), "FAILED")
    assert missing in run["tasks"][0]["reasonForIncompletion"]
    assert http_target.requests_to("/json/x") == []


def test_an_event_task_posts_the_value_to_its_webhook_sink_and_keeps_it_out_of_its_output(
    client: httpx.Client, http_target: HttpTarget
) -> None:
    secret, value = _secret(client)
    flow = unique("secret_event")
    step = {
        "name": "notify",
        "taskReferenceName": "notify",
        "type": "EVENT",
        "sink": f"webhook:{http_target.url}/json/event-{flow}",
        "inputParameters": {"token": f"${{workflow.secrets.{secret}}}", "order": "o-1"},
    }
    register(client, {"name": flow, "version": 1, "tasks": [step]})
    run = wait_for_status(client, start(client, flow, {}), "COMPLETED")
    [seen] = http_target.requests_to(f"/json/event-{flow}")
    assert seen.json()["token"] == value and seen.json()["order"] == "o-1"
    [task] = run["tasks"]
    assert task["inputData"]["token"] == "***" and task["outputData"]["token"] == "***"
    assert value not in str(run)


def test_a_json_string_body_is_its_string_and_any_other_body_its_text(client: httpx.Client) -> None:
    bodies = {
        unique("quoted"): (b'"a \\"quoted\\" value"', 'a "quoted" value'),
        unique("raw"): (b"raw-text", "raw-text"),  # conductor-python sends the value unquoted
        unique("json_key"): (b'{"type": "service_account", "n": 1}', '{"type": "service_account", "n": 1}'),
        unique("number"): (b"42", "42"),
        unique("pem"): (b"-----BEGIN-----\nabc\n-----END-----\n", "-----BEGIN-----\nabc\n-----END-----\n"),
    }
    for name, (body, _) in bodies.items():
        stored = client.put(f"/api/secrets/{name}", content=body, headers={"Content-Type": "application/json"})
        assert stored.status_code == 200, stored.text
    flow, task_type = unique("secret_forms"), unique("secret_forms_work")
    register(client, _worker_flow(flow, task_type, {name: f"${{workflow.secrets.{name}}}" for name in bodies}))
    start(client, flow, {})
    task = take(client, task_type)
    assert task["inputData"] == {name: value for name, (_, value) in bodies.items()}
    complete(client, task)
