"""``POST /api/workflow/test``: a real run whose worker steps are answered from mocks, on both stores."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.api.http_target import HttpTarget, http_target
from tests.helpers import child_workflow, parent_workflow, queue_size, register, run_of, task_defs, unique, worker

pytestmark = pytest.mark.timeout(90)
__all__ = ["http_target"]


def _test(client: httpx.Client, body: dict[str, Any], **params: Any) -> httpx.Response:
    return client.post("/api/workflow/test", json=body, params=params)


def _tasks(run: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["referenceTaskName"], t["status"]) for t in run["tasks"]]


def test_mocks_answer_each_attempt_system_tasks_run_and_an_unmocked_step_waits(client: httpx.Client) -> None:
    name, charge, ship, notify = unique("tested"), unique("charge"), unique("ship"), unique("notify")
    task_defs(client, {"name": ship, "retryCount": 1, "retryDelaySeconds": 0})
    register(
        client,
        {
            "name": name,
            "version": 1,
            "tasks": [
                worker("charge", charge, inputParameters={"amount": "${workflow.input.amount}"}),
                worker("ship", ship),
                {
                    "name": "remember",
                    "taskReferenceName": "remember",
                    "type": "SET_VARIABLE",
                    "inputParameters": {"tracking": "${ship.output.tracking}"},
                },
                worker("notify", notify),
            ],
        },
    )
    response = _test(
        client,
        {
            "name": name,
            "version": 1,
            "input": {"amount": 7},
            "correlationId": "order-1",
            "taskRefToMockOutput": {
                "charge": [{"status": "COMPLETED", "output": {"status": "PAID"}}],
                "ship": [
                    {"status": "FAILED", "output": {"why": "truck"}},
                    {"status": "COMPLETED", "output": {"tracking": "T-1"}},
                ],
            },
        },
    )
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "RUNNING" and run["workflowName"] == name and run["correlationId"] == "order-1"
    assert _tasks(run) == [
        ("charge", "COMPLETED"),
        ("ship", "FAILED"),
        ("ship", "COMPLETED"),
        ("remember", "COMPLETED"),
        ("notify", "SCHEDULED"),
    ]
    charged, failed, shipped = run["tasks"][:3]
    assert charged["inputData"] == {"amount": 7} and charged["outputData"] == {"status": "PAID"}
    assert failed["outputData"] == {"why": "truck"} and shipped["retryCount"] == 1
    assert shipped["outputData"] == {"tracking": "T-1"}
    assert run["variables"] == {"tracking": "T-1"}
    # Durable like any run, and the step with no mock is queued for a real worker.
    stored = run_of(client, run["workflowId"])
    assert _tasks(stored) == _tasks(run) and stored["variables"] == run["variables"]
    assert queue_size(client, notify) == 1


def test_an_inline_definition_runs_to_its_end(client: httpx.Client) -> None:
    step = unique("step")
    definition = {
        "name": unique("inline_tested"),
        "version": 1,
        "tasks": [worker("one", step), worker("two", step)],
        "outputParameters": {"total": "${two.output.total}"},
    }
    mocks = {"one": [{"output": {"n": 1}}], "two": [{"status": "COMPLETED", "output": {"total": 3}}]}
    response = _test(client, {"name": definition["name"], "workflowDef": definition, "taskRefToMockOutput": mocks})
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "COMPLETED" and run["output"] == {"total": 3}
    assert _tasks(run) == [("one", "COMPLETED"), ("two", "COMPLETED")]
    assert queue_size(client, step) == 0


def test_a_terminal_failure_fails_the_run(client: httpx.Client) -> None:
    step = unique("step")
    definition = {"name": unique("failing"), "version": 1, "tasks": [worker("only", step)]}
    mocks = {"only": [{"status": "FAILED_WITH_TERMINAL_ERROR", "output": {"e": 1}}]}
    run = _test(client, {"workflowDef": definition, "taskRefToMockOutput": mocks}).json()
    assert run["status"] == "FAILED" and _tasks(run) == [("only", "FAILED_WITH_TERMINAL_ERROR")]


def test_a_sub_workflow_is_answered_from_its_own_request(client: httpx.Client) -> None:
    parent, child, work = unique("parent"), unique("child"), unique("child_work")
    register(client, child_workflow(child, work))
    register(client, parent_workflow(parent, child=child))
    body = {
        "name": parent,
        "input": {"value": 21},
        "subWorkflowTestRequest": {
            "sub": {"taskRefToMockOutput": {work: [{"status": "COMPLETED", "output": {"doubled": 42}}]}}
        },
    }
    response = _test(client, body)
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["status"] == "COMPLETED" and run["output"] == {"fromChild": 42}
    (sub,) = run["tasks"]
    assert sub["status"] == "COMPLETED" and sub["subWorkflowId"]
    child_run = run_of(client, sub["subWorkflowId"])
    assert child_run["status"] == "COMPLETED" and child_run["parentWorkflowId"] == run["workflowId"]
    assert [(t["referenceTaskName"], t["outputData"]) for t in child_run["tasks"]] == [(work, {"doubled": 42})]


def test_a_sub_workflow_without_mocks_waits_for_its_worker(client: httpx.Client) -> None:
    parent, child, work = unique("parent"), unique("child"), unique("child_work")
    register(client, child_workflow(child, work))
    register(client, parent_workflow(parent, child=child))
    run = _test(client, {"name": parent, "input": {"value": 1}}).json()
    assert run["status"] == "RUNNING"
    (sub,) = run["tasks"]
    assert sub["status"] == "IN_PROGRESS"
    assert _tasks(run_of(client, sub["subWorkflowId"])) == [(work, "SCHEDULED")]


def test_bad_requests_start_nothing(client: httpx.Client) -> None:
    missing = _test(client, {"name": unique("no_such_workflow")})
    assert missing.status_code == 404, missing.text

    name, step = unique("checked"), unique("step")
    register(client, {"name": name, "version": 1, "tasks": [worker("a", step)]})
    correlation = unique("never")
    bad_bodies: list[tuple[Any, str]] = [
        ({"name": name, "correlationId": correlation, "taskRefToMockOutput": {"a": [{"status": "NOPE"}]}}, "status"),
        ({"name": name, "correlationId": correlation, "taskRefToMockOutput": {"a": {"status": "x"}}}, "a"),
        ({"name": name, "correlationId": correlation, "input": []}, "input"),
        ({"correlationId": correlation}, "name"),
        ([name], "body"),
    ]
    for body, field in bad_bodies:
        response = _test(client, body)
        assert response.status_code == 400, (body, response.text)
        paths = [error["path"] for error in response.json()["validationErrors"]]
        assert any(field in path for path in paths), (body, paths)
    bad_wait = _test(client, {"name": name}, waitForSeconds="-1")
    assert bad_wait.status_code == 400 and bad_wait.json()["validationErrors"][0]["path"] == "waitForSeconds"
    started = client.get(f"/api/workflow/{name}/correlated/{correlation}", params={"includeClosed": "true"})
    assert started.json() == []
    assert queue_size(client, step) == 0


def test_loop_iterations_and_people_are_answered_by_their_run_names(client: httpx.Client) -> None:
    page = unique("page")
    definition = {
        "name": unique("looped"),
        "version": 1,
        "tasks": [
            {
                "name": "pages",
                "taskReferenceName": "pages",
                "type": "DO_WHILE",
                "inputParameters": {"last": 2},
                "loopCondition": "$.fetch['page'] < $.last",
                "loopOver": [worker("fetch", page)],
            },
            {"name": "review", "taskReferenceName": "review", "type": "HUMAN"},
            {"name": "pause", "taskReferenceName": "pause", "type": "WAIT", "inputParameters": {"duration": "1 hour"}},
        ],
        "outputParameters": {"final": "${fetch.output.page}", "approved": "${review.output.approved}"},
    }
    mocks = {
        "fetch__1": [{"output": {"page": 1}}],
        "fetch__2": [{"output": {"page": 2}}],
        "review": [{"output": {"approved": True}}],
    }
    run = _test(client, {"workflowDef": definition, "taskRefToMockOutput": mocks}).json()
    # The WAIT has no mock: it waits as it would, and the test answers at once.
    assert run["status"] == "RUNNING"
    assert _tasks(run) == [
        ("pages", "COMPLETED"),
        ("fetch__1", "COMPLETED"),
        ("fetch__2", "COMPLETED"),
        ("review", "COMPLETED"),
        ("pause", "IN_PROGRESS"),
    ]
    finished = _test(client, {"workflowDef": definition, "taskRefToMockOutput": {**mocks, "pause": [{}]}}).json()
    assert finished["status"] == "COMPLETED" and finished["output"] == {"final": 2, "approved": True}


def _called(ref: str, uri: str) -> dict[str, Any]:
    return {
        "name": "call",
        "taskReferenceName": ref,
        "type": "HTTP",
        "inputParameters": {"http_request": {"uri": uri, "method": "GET"}},
    }


def test_a_step_the_server_runs_itself_is_waited_for(client: httpx.Client, http_target: HttpTarget) -> None:
    step = unique("step")
    definition = {
        "name": unique("calling"),
        "version": 1,
        "tasks": [worker("before", step), _called("call", f"{http_target.url}/json/mocked"), worker("after", step)],
        "outputParameters": {"n": "${call.output.response.body.n}", "last": "${after.output.last}"},
    }
    mocks = {"before": [{}], "after": [{"output": {"last": True}}]}
    run = _test(client, {"workflowDef": definition, "taskRefToMockOutput": mocks}).json()
    assert run["status"] == "COMPLETED" and run["output"] == {"n": 42, "last": True}
    assert _tasks(run) == [("before", "COMPLETED"), ("call", "COMPLETED"), ("after", "COMPLETED")]
    assert len(http_target.requests_to("/json/mocked")) == 1


def test_the_wait_for_a_step_the_server_runs_is_bounded(client: httpx.Client, http_target: HttpTarget) -> None:
    definition = {"name": unique("held"), "version": 1, "tasks": [_called("call", f"{http_target.url}/gate")]}
    began = time.monotonic()
    try:
        response = _test(client, {"workflowDef": definition}, waitForSeconds="1")
    finally:
        http_target.gate.set()
    assert 1 <= time.monotonic() - began < 10
    run = response.json()
    (call,) = run["tasks"]
    assert run["status"] == "RUNNING" and call["status"] in ("SCHEDULED", "IN_PROGRESS")


def test_a_fork_branch_with_mocks_goes_on_beside_one_without(client: httpx.Client) -> None:
    step = unique("step")
    definition = {
        "name": unique("forked"),
        "version": 1,
        "tasks": [
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [[worker("left", step), worker("left_again", step)], [worker("right", step)]],
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["left_again", "right"]},
        ],
    }
    mocks = {"left": [{}], "left_again": [{}]}
    run = _test(client, {"workflowDef": definition, "taskRefToMockOutput": mocks}).json()
    assert run["status"] == "RUNNING"
    assert dict(_tasks(run)) == {
        "fork": "COMPLETED",
        "left": "COMPLETED",
        "left_again": "COMPLETED",
        "right": "SCHEDULED",
        "join": "IN_PROGRESS",
    }
