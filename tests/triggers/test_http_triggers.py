"""Runs started and resumed by HTTP requests under ``/workflows``, answered by their HTTP_RESPONSE steps.

Every test goes through a real ``baton serve`` over HTTP, on SQLite and on PostgreSQL. Paths are global to a
server, so each test's are made unique.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.api.http_target import HttpTarget, http_target
from tests.conftest import ServerProcess
from tests.helpers import poll, register, unique, wait_for_status

__all__ = ["http_target"]


def endpoint(ref: str, path: str, **inputs: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "HTTP_ENDPOINT", "inputParameters": {"path": path, **inputs}}


def respond(ref: str, **inputs: Any) -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "HTTP_RESPONSE", "inputParameters": inputs}


def inline(ref: str, expression: str, **inputs: Any) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "INLINE",
        "inputParameters": {"evaluatorType": "javascript", "expression": expression, **inputs},
    }


def workflow(client: httpx.Client, name: str, *tasks: dict[str, Any]) -> str:
    register(client, {"name": name, "version": 1, "tasks": list(tasks)})
    return name


def task_of(run: dict[str, Any], ref: str) -> dict[str, Any]:
    return next(task for task in run["tasks"] if task["referenceTaskName"] == ref)


def logs_of(client: httpx.Client, task_id: str) -> list[str]:
    response = client.get(f"/api/tasks/{task_id}/log")
    assert response.status_code == 200, response.text
    return [line["log"] for line in response.json()]


def test_a_trigger_answers_with_what_the_workflow_computed(client: httpx.Client) -> None:
    base = unique("orders")
    name = workflow(
        client,
        unique("order_total"),
        endpoint("hook", base + "/{orderId}", methods=["POST"], canStartWorkflow=True),
        inline("calc", "$.qty * $.price", qty="${hook.output.body.qty}", price="${hook.output.body.price}"),
        respond(
            "reply",
            statusCode=201,
            headers={"X-Order": "${hook.output.routeData.orderId}"},
            body={"order": "${hook.output.routeData.orderId}", "total": "${calc.output.result}"},
        ),
    )
    answer = client.post(
        f"/workflows/{base.upper()}/A-42?note=x&tag=1&tag=2",
        json={"qty": 3, "price": 5},
        headers={"X-Correlation-ID": "corr-1", "Authorization": "Bearer secret"},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"order": "A-42", "total": 15}
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-order"] == "A-42"
    workflow_id = answer.headers["x-workflow-instance-id"]

    run = client.get(f"/api/workflow/{workflow_id}").json()  # Conductor's routes see the run
    assert run["workflowName"] == name and run["status"] == "COMPLETED"
    assert run["correlationId"] == "corr-1"
    hook = task_of(run, "hook")["outputData"]
    assert hook["body"] == {"qty": 3, "price": 5}
    assert hook["method"] == "POST" and hook["path"] == f"/workflows/{base.upper()}/A-42"
    assert hook["routeData"] == {"orderId": "A-42"}
    assert hook["query"] == {"note": "x", "tag": ["1", "2"]}
    assert hook["headers"]["content-type"] == "application/json"
    assert "authorization" not in hook["headers"]  # a run's history is no place for credentials
    assert task_of(run, "reply")["outputData"]["exchange"] == hook["exchange"]["id"]


def test_a_chosen_run_id_is_the_runs_and_a_taken_one_is_409(client: httpx.Client) -> None:
    base = unique("chosen")
    workflow(
        client,
        unique("chosen_id"),
        endpoint("hook", base, canStartWorkflow=True),
        respond("reply", body="${workflow.workflowId}"),
    )
    chosen = unique("run")
    answer = client.get(f"/workflows/{base}", params={"workflowInstanceId": chosen, "correlationId": "c-7"})
    assert answer.status_code == 200 and answer.text == chosen
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert client.get(f"/api/workflow/{chosen}").json()["correlationId"] == "c-7"
    again = client.get(f"/workflows/{base}", headers={"X-Workflow-Instance-ID": chosen})
    assert again.status_code == 409 and chosen in again.json()["message"]


def test_a_run_blocked_midway_is_resumed_by_a_request_found_by_correlation_id(client: httpx.Client) -> None:
    base = unique("approvals")
    workflow(
        client,
        unique("approval"),
        endpoint("submit", base + "/submit", methods=["POST"], canStartWorkflow=True),
        respond("accepted", statusCode=202, body={"state": "waiting"}),
        endpoint("decide", base + "/{id}/decision", methods=["POST"]),
        inline("verdict", "$.ok ? 'approved' : 'rejected'", ok="${decide.output.body.approve}"),
        respond("done", body={"verdict": "${verdict.output.result}", "by": "${decide.output.routeData.id}"}),
    )
    first = client.post(f"/workflows/{base}/submit", json={}, headers={"X-Correlation-ID": "case-1"})
    assert first.status_code == 202 and first.json() == {"state": "waiting"}
    run_1 = first.headers["x-workflow-instance-id"]
    second = client.post(f"/workflows/{base}/submit", json={}, headers={"X-Correlation-ID": "case-2"})
    run_2 = second.headers["x-workflow-instance-id"]
    assert task_of(client.get(f"/api/workflow/{run_1}").json(), "decide")["status"] == "IN_PROGRESS"

    ambiguous = client.post(f"/workflows/{base}/9/decision", json={"approve": True})
    assert ambiguous.status_code == 409
    assert run_1 in ambiguous.json()["message"] and run_2 in ambiguous.json()["message"]

    resumed = client.post(
        f"/workflows/{base}/7/decision", json={"approve": True}, headers={"X-Correlation-ID": "case-1"}
    )
    assert resumed.status_code == 200, resumed.text
    assert resumed.json() == {"verdict": "approved", "by": "7"}
    assert resumed.headers["x-workflow-instance-id"] == run_1
    assert wait_for_status(client, run_1, "COMPLETED")["output"]["body"]["by"] == "7"

    by_id = client.post(f"/workflows/{base}/8/decision?workflowInstanceId={run_2}", json={"approve": False})
    assert by_id.json() == {"verdict": "rejected", "by": "8"}
    gone = client.post(f"/workflows/{base}/8/decision?correlationId=case-2", json={"approve": False})
    assert gone.status_code == 404 and gone.json()["message"].startswith("No workflow starts or waits at POST")
    wrong_method = client.get(f"/workflows/{base}/submit")
    assert wrong_method.status_code == 404


def test_no_match_is_404_in_elsas_shape(client: httpx.Client) -> None:
    answer = client.put(f"/workflows/{unique('nowhere')}/x")
    assert answer.status_code == 404
    assert set(answer.json()) == {"message"}


def test_two_definitions_claiming_one_path_and_method_are_refused_at_registration(client: httpx.Client) -> None:
    base = unique("claimed")
    first = workflow(
        client, unique("first"), endpoint("hook", base + "/{id}", methods=["POST", "GET"], canStartWorkflow=True)
    )
    second = {
        "name": unique("second"),
        "tasks": [endpoint("hook", base + "/{key}", methods=["POST"], canStartWorkflow=True)],
    }
    refused = client.post("/api/metadata/workflow", json=second)
    assert refused.status_code == 409
    assert first in refused.json()["message"]
    other_method = {**second, "tasks": [endpoint("hook", base + "/{key}", methods=["PUT"], canStartWorkflow=True)]}
    assert client.post("/api/metadata/workflow", json=other_method).status_code == 200


def test_a_run_that_blocks_before_responding_answers_200_empty_and_its_late_response_is_logged(
    client: httpx.Client,
) -> None:
    base, work = unique("blocking"), unique("hook_work")
    workflow(
        client,
        unique("blocks"),
        endpoint("hook", base, methods=["POST"], canStartWorkflow=True),
        {"name": work, "taskReferenceName": "work", "type": "SIMPLE"},
        respond("late", body="never sent"),
    )
    answer = client.post(f"/workflows/{base}", content=b"plain words", headers={"Content-Type": "text/plain"})
    assert answer.status_code == 200 and answer.content == b""
    workflow_id = answer.headers["x-workflow-instance-id"]
    [task] = poll(client, work)
    done = client.post(
        "/api/tasks",
        json={"workflowInstanceId": workflow_id, "taskId": task["taskId"], "status": "COMPLETED", "outputData": {}},
    )
    assert done.status_code == 200, done.text
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert task_of(run, "hook")["outputData"]["body"] == "plain words"
    late = task_of(run, "late")
    assert late["status"] == "COMPLETED" and late["outputData"]["exchange"] is None
    [line] = logs_of(client, late["taskId"])
    assert line.startswith("No request to answer") and "'work'" in line


def test_a_response_with_no_request_at_all_is_a_logged_no_op(client: httpx.Client) -> None:
    name = workflow(client, unique("no_request"), respond("reply", body={"x": 1}))
    started = client.post(f"/api/workflow/{name}", json={})
    run = wait_for_status(client, started.text, "COMPLETED")
    reply = task_of(run, "reply")
    assert logs_of(client, reply["taskId"]) == [
        "No request to answer, so this response was not sent: the run was not started or resumed by an HTTP request"
    ]


def test_a_run_that_fails_before_responding_answers_500_with_the_reason(client: httpx.Client) -> None:
    base = unique("failing")
    workflow(
        client,
        unique("fails"),
        endpoint("hook", base, canStartWorkflow=True),
        inline("boom", "(function () { throw new Error('no stock left'); })()"),
        respond("reply", body="unreached"),
    )
    answer = client.get(f"/workflows/{base}")
    assert answer.status_code == 500
    assert "no stock left" in answer.json()["message"]
    workflow_id = answer.headers["x-workflow-instance-id"]
    assert client.get(f"/api/workflow/{workflow_id}").json()["status"] == "FAILED"


def test_a_slow_run_answers_408_and_its_response_after_the_timeout_is_not_sent(
    client: httpx.Client, http_target: HttpTarget
) -> None:
    base = unique("slow")
    workflow(
        client,
        unique("slow_run"),
        endpoint("hook", base, canStartWorkflow=True, requestTimeoutSeconds=1),
        {
            "name": "call",
            "taskReferenceName": "call",
            "type": "HTTP",
            "inputParameters": {"http_request": {"uri": f"{http_target.url}/gate", "method": "GET"}},
        },
        respond("reply", body="too late"),
    )
    began = time.monotonic()
    answer = client.get(f"/workflows/{base}")
    assert answer.status_code == 408, answer.text
    assert 0.9 < time.monotonic() - began < 5
    workflow_id = answer.headers.get("x-workflow-instance-id") or answer.json()["workflowInstanceId"]
    http_target.gate.set()
    run = wait_for_status(client, workflow_id, "COMPLETED")
    reply = task_of(run, "reply")
    assert reply["outputData"]["exchange"] is None
    assert "timed out" in logs_of(client, reply["taskId"])[0]


def test_a_body_over_the_steps_size_limit_is_413(client: httpx.Client) -> None:
    base = unique("small")
    name = workflow(
        client,
        unique("small_body"),
        endpoint("hook", base, methods=["POST"], canStartWorkflow=True, requestSizeLimit=10),
    )
    answer = client.post(f"/workflows/{base}", content=b"x" * 11, headers={"Content-Type": "text/plain"})
    assert answer.status_code == 413
    assert answer.json() == {"message": "The maximum request size allowed is 10 bytes."}
    assert client.get(f"/api/workflow/{name}/correlated/none").json() == []
    assert (
        client.post(f"/workflows/{base}", content=b"x" * 10, headers={"Content-Type": "text/plain"}).status_code == 200
    )


def test_an_invalid_json_body_is_400_and_starts_nothing(client: httpx.Client) -> None:
    base = unique("json")
    name = workflow(client, unique("json_body"), endpoint("hook", base, methods=["POST"], canStartWorkflow=True))
    answer = client.post(
        f"/workflows/{base}", content=b'{"a": ', headers={"Content-Type": "application/json", "X-Correlation-ID": "bad"}
    )
    assert answer.status_code == 400
    assert answer.json()["message"].startswith("The request body is not valid JSON")
    assert client.get(f"/api/workflow/{name}/correlated/bad").json() == []


def test_authorize_needs_an_authorization_header(server: ServerProcess, client: httpx.Client) -> None:
    base = unique("private")
    workflow(
        client,
        unique("private_run"),
        endpoint("hook", base, canStartWorkflow=True, authorize=True),
        respond("r", body="in"),
    )
    assert httpx.get(f"{server.url}/workflows/{base}").status_code == 401
    allowed = client.get(f"/workflows/{base}")  # the test ADMIN key
    assert allowed.status_code == 200 and allowed.text == "in"


def test_registration_names_what_is_wrong_with_an_endpoint_or_a_response(client: httpx.Client) -> None:
    definition = {
        "name": unique("bad_endpoint"),
        "tasks": [
            endpoint("hook", "orders/{id}/{id}", methods=["FETCH"], canStartWorkflow=True, requestSizeLimit=-1),
            endpoint("later", "x", canStartWorkflow=True),
            respond("reply", statusCode=99, headers={"Bad Name": "v"}),
        ],
    }
    answer = client.post("/api/metadata/workflow", json=definition)
    assert answer.status_code == 400
    paths = {error["path"] for error in answer.json()["validationErrors"]}
    assert paths == {
        "tasks[0].inputParameters.path",
        "tasks[0].inputParameters.methods[0]",
        "tasks[0].inputParameters.requestSizeLimit",
        "tasks[1].inputParameters.canStartWorkflow",
        "tasks[2].inputParameters.statusCode",
        "tasks[2].inputParameters.headers.Bad Name",
    }


def test_a_run_started_through_conductor_waits_at_a_path_its_input_names(client: httpx.Client) -> None:
    slug = unique("confirm")
    name = workflow(
        client,
        unique("confirmation"),
        endpoint("confirm", "${workflow.input.slug}/confirm", methods=["POST"]),
        respond("reply", body="confirmed ${workflow.input.slug}"),
    )
    began = time.monotonic()
    execute = client.post(f"/api/workflow/execute/{name}", json={"input": {"slug": slug}}, params={"waitForSeconds": 5})
    assert execute.status_code == 206 and time.monotonic() - began < 3  # a sync execute stops at the waiting step
    answer = client.post(f"/workflows/{slug}/confirm", json={})
    assert answer.status_code == 200 and answer.text == f"confirmed {slug}"
    assert answer.headers["x-workflow-instance-id"] == execute.json()["workflowId"]
