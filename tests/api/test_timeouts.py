"""Timeouts and the other reliability settings of steps and runs, through a real server on both stores.

Timers are rows: the restart tests kill the server while a timeout is pending and
check that the one started again on the same database fires it.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.helpers import (
    complete,
    poll,
    queue_size,
    register,
    run_of,
    simple_workflow,
    start,
    task_defs,
    unique,
    wait_for,
    wait_for_status,
)

# -- task timeouts -----------------------------------------------------------------


def test_timeout_seconds_time_out_wf_ends_the_run_without_retrying(client: httpx.Client) -> None:
    task_defs(
        client,
        {"name": "sluggish", "timeoutSeconds": 1, "responseTimeoutSeconds": 1, "retryCount": 3, "retryDelaySeconds": 0},
    )
    register(client, simple_workflow("sla", ["sluggish", "never"]))
    workflow_id = start(client, "sla")
    (task,) = poll(client, "sluggish")
    run = wait_for_status(client, workflow_id, "TIMED_OUT")
    assert run["reasonForIncompletion"] == (
        "Task timed out after 1 seconds. Timeout configured as 1 seconds. Timeout policy configured to TIME_OUT_WF"
    )
    assert [(t["referenceTaskName"], t["status"]) for t in run["tasks"]] == [("sluggish_0", "TIMED_OUT")]
    assert complete(client, task).status_code == 200  # ignored, as Conductor does
    assert run_of(client, workflow_id)["tasks"][0]["status"] == "TIMED_OUT"


def test_timeout_seconds_retry_times_out_then_the_retry_completes(client: httpx.Client) -> None:
    task_defs(
        client,
        {
            "name": "patient",
            "timeoutSeconds": 1,
            "responseTimeoutSeconds": 1,
            "timeoutPolicy": "RETRY",
            "retryCount": 1,
            "retryDelaySeconds": 0,
        },
    )
    register(client, simple_workflow("retried", ["patient"]))
    workflow_id = start(client, "retried")
    poll(client, "patient")
    (retry,) = poll(client, "patient", timeout_ms=10_000)
    assert retry["retryCount"] == 1
    assert complete(client, retry, {"ok": True}).status_code == 200
    run = wait_for_status(client, workflow_id, "COMPLETED")
    first = run["tasks"][0]
    assert first["status"] == "TIMED_OUT"
    assert first["reasonForIncompletion"].startswith("Task timed out after 1 seconds")


@pytest.mark.own_server
def test_alert_only_timeouts_are_recorded_once_and_change_nothing_else(client: httpx.Client, server: Any) -> None:
    task_defs(client, {"name": "watched", "pollTimeoutSeconds": 1, "timeoutPolicy": "ALERT_ONLY"})
    register(client, simple_workflow("alerting", ["watched"], timeoutSeconds=1))  # ALERT_ONLY by default
    workflow_id = start(client, "alerting")
    run = wait_for(client, workflow_id, lambda r: r["timeoutAlertedAt"] and r["tasks"][0]["timeoutAlertedAt"])
    assert run["status"] == "RUNNING"
    assert [t["status"] for t in run["tasks"]] == ["SCHEDULED"]
    (task,) = poll(client, "watched")
    assert complete(client, task, {"done": 1}).status_code == 200
    assert wait_for_status(client, workflow_id, "COMPLETED")["output"] == {"done": 1}
    log = server.log()
    assert log.count("ALERT_ONLY timeout: Task") == 1, log
    assert log.count("ALERT_ONLY timeout: Workflow") == 1, log


def test_poll_timeout_times_out_a_task_no_worker_polled(client: httpx.Client) -> None:
    task_defs(client, {"name": "unattended", "pollTimeoutSeconds": 1})
    register(client, simple_workflow("unpolled", ["unattended"]))
    workflow_id = start(client, "unpolled")
    run = wait_for_status(client, workflow_id, "TIMED_OUT")
    assert "Poll timeout configured as 1 seconds" in run["reasonForIncompletion"]
    assert run["tasks"][0]["status"] == "TIMED_OUT"
    assert queue_size(client, "unattended") == 0
    assert poll(client, "unattended", timeout_ms=100) == []


def test_total_timeout_stops_the_retries(client: httpx.Client) -> None:
    task_defs(client, {"name": "budgeted", "retryCount": 5, "retryDelaySeconds": 0, "totalTimeoutSeconds": 3})
    register(client, simple_workflow("budget", ["budgeted"]))
    workflow_id = start(client, "budget")
    (first,) = poll(client, "budgeted")
    failed = {"taskId": first["taskId"], "workflowInstanceId": workflow_id, "status": "FAILED"}
    assert client.post("/api/tasks", json=failed).status_code == 200
    (second,) = poll(client, "budgeted", timeout_ms=5_000)
    run = wait_for_status(client, workflow_id, "TIMED_OUT")
    assert run["reasonForIncompletion"] == "Task exceeded its totalTimeoutSeconds (3 s) across its attempts"
    assert [t["status"] for t in run["tasks"]] == ["FAILED", "TIMED_OUT"]
    assert complete(client, second).status_code == 200  # ignored, as Conductor does
    assert [t["status"] for t in run_of(client, workflow_id)["tasks"]] == ["FAILED", "TIMED_OUT"]


# -- run timeouts ------------------------------------------------------------------


def test_a_run_timeout_ends_the_run_and_cancels_its_tasks(client: httpx.Client) -> None:
    register(client, simple_workflow("deadline", ["slow_step"], timeoutSeconds=1, timeoutPolicy="TIME_OUT_WF"))
    workflow_id = start(client, "deadline")
    run = wait_for_status(client, workflow_id, "TIMED_OUT")
    assert run["reasonForIncompletion"].startswith("Workflow timed out after 1 seconds. Timeout configured as 1")
    assert run["reasonForIncompletion"].endswith("Timeout policy configured to TIME_OUT_WF")
    assert [t["status"] for t in run["tasks"]] == ["CANCELED"]
    assert queue_size(client, "slow_step") == 0


@pytest.mark.own_server
def test_timers_survive_a_killed_server(client: httpx.Client, server: ServerProcess) -> None:
    register(client, simple_workflow("doomed", ["stuck"], timeoutSeconds=2, timeoutPolicy="TIME_OUT_WF"))
    task_defs(client, {"name": "forgotten", "pollTimeoutSeconds": 2})
    register(client, simple_workflow("forgetful", ["forgotten"]))
    doomed, forgetful = start(client, "doomed"), start(client, "forgetful")
    server.kill()  # the timers were written by this process; only the next one can fire them
    server.start()
    with server.client(timeout=30) as again:
        assert wait_for_status(again, doomed, "TIMED_OUT")["tasks"][0]["status"] == "CANCELED"
        assert wait_for_status(again, forgetful, "TIMED_OUT")["tasks"][0]["status"] == "TIMED_OUT"


# -- delays, retries and the rest of a step's settings ------------------------------


def test_start_delay_holds_worker_and_server_run_tasks(client: httpx.Client) -> None:
    definition = {
        "name": "delayed",
        "tasks": [
            {
                "name": "later",
                "taskReferenceName": "later",
                "type": "INLINE",
                "startDelay": 2,
                "inputParameters": {"evaluatorType": "javascript", "expression": "6 * 7"},
            },
            {"name": "held", "taskReferenceName": "held", "startDelay": 2},
        ],
    }
    register(client, definition)
    workflow_id = start(client, "delayed")
    inline = run_of(client, workflow_id)["tasks"][0]
    assert (inline["status"], inline["startDelayInSeconds"]) == ("SCHEDULED", 2)
    run = wait_for(client, workflow_id, lambda r: len(r["tasks"]) == 2)
    assert run["tasks"][0]["outputData"] == {"result": 42}
    assert poll(client, "held", timeout_ms=0) == []
    (held,) = poll(client, "held", timeout_ms=10_000)
    assert complete(client, held).status_code == 200
    wait_for_status(client, workflow_id, "COMPLETED")


@pytest.mark.parametrize(
    ("logic", "scale", "delay"),
    [("FIXED", 1, 3), ("LINEAR_BACKOFF", 2, 6), ("EXPONENTIAL_BACKOFF", 1, 3)],
)
def test_retry_delays_follow_the_retry_logic(client: httpx.Client, logic: str, scale: int, delay: int) -> None:
    step = unique("backing_off")  # the three cases share the server: each keeps its own delayed retry
    task_defs(
        client,
        {
            "name": step,
            "retryCount": 1,
            "retryLogic": logic,
            "retryDelaySeconds": 3,
            "backoffScaleFactor": scale,
        },
    )
    register(client, simple_workflow("backoff", [step]))
    workflow_id = start(client, "backoff")
    (task,) = poll(client, step)
    failed = {"taskId": task["taskId"], "workflowInstanceId": workflow_id, "status": "FAILED"}
    assert client.post("/api/tasks", json=failed).status_code == 200
    retry = run_of(client, workflow_id)["tasks"][1]
    assert (retry["status"], retry["retryCount"]) == ("SCHEDULED", 1)
    assert (retry["callbackAfterSeconds"], retry["startDelayInSeconds"]) == (delay, delay)
    assert retry["retriedTaskId"] == task["taskId"]
    assert poll(client, step, timeout_ms=0) == []


def test_an_optional_step_that_fails_for_good_lets_the_run_go_on(client: httpx.Client) -> None:
    task_defs(client, {"name": "flaky_extra", "retryCount": 0})
    definition = simple_workflow("with_optional", ["flaky_extra", "essential"])
    definition["tasks"][0]["optional"] = True
    register(client, definition)
    workflow_id = start(client, "with_optional")
    (task,) = poll(client, "flaky_extra")
    failed = {
        "taskId": task["taskId"],
        "workflowInstanceId": workflow_id,
        "status": "FAILED",
        "reasonForIncompletion": "x",
    }
    assert client.post("/api/tasks", json=failed).status_code == 200
    (essential,) = poll(client, "essential")
    assert complete(client, essential).status_code == 200
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert [t["status"] for t in run["tasks"]] == ["COMPLETED_WITH_ERRORS", "COMPLETED"]


def test_input_template_variables_and_output_parameters(client: httpx.Client) -> None:
    definition = {
        "name": "templated",
        "inputTemplate": {"greeting": "Hello", "name": "nobody"},
        "variables": {"count": 1},
        "tasks": [
            {
                "name": "shout",
                "taskReferenceName": "shout",
                "type": "INLINE",
                "inputParameters": {
                    "evaluatorType": "javascript",
                    "expression": "$.greeting + ', ' + $.name + ' x' + $.count",
                    "greeting": "${workflow.input.greeting}",
                    "name": "${workflow.input.name}",
                    "count": "${workflow.variables.count}",
                },
            }
        ],
        "outputParameters": {"text": "${shout.output.result}", "count": "${workflow.variables.count}"},
    }
    register(client, definition)
    response = client.post("/api/workflow/execute/templated", json={"input": {"name": "Ada"}})
    assert response.status_code == 200, response.text
    run = response.json()
    assert run["input"] == {"greeting": "Hello", "name": "Ada"}
    assert run["variables"] == {"count": 1}
    assert run["output"] == {"text": "Hello, Ada x1", "count": 1}


def test_async_complete_does_not_hold_an_inline_task(client: httpx.Client) -> None:
    definition = {
        "name": "async_inline",
        "tasks": [
            {
                "name": "quick",
                "taskReferenceName": "quick",
                "type": "INLINE",
                "asyncComplete": True,
                "inputParameters": {"evaluatorType": "javascript", "expression": "1"},
            }
        ],
    }
    register(client, definition)
    response = client.post("/api/workflow/execute/async_inline", json={})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "COMPLETED"


def test_bad_reliability_settings_are_400s_naming_the_field(client: httpx.Client) -> None:
    for field in (
        "pollTimeoutSeconds",
        "totalTimeoutSeconds",
        "concurrentExecLimit",
        "rateLimitPerFrequency",
        "rateLimitFrequencyInSeconds",
    ):
        response = client.post("/api/metadata/taskdefs", json=[{"name": "bad", field: -1}])
        assert response.status_code == 400, response.text
        assert [e["path"] for e in response.json()["validationErrors"]] == [field]
    response = client.post("/api/metadata/taskdefs", json=[{"name": "bad", "timeoutPolicy": "SOMETIMES"}])
    assert response.status_code == 400
    assert "timeoutPolicy" in response.text
    bad_run = simple_workflow("bad_timeout", ["x"], timeoutPolicy="RETRY")
    response = client.post("/api/metadata/workflow", json=bad_run)
    assert response.status_code == 400
    assert "timeoutPolicy" in response.text
    assert client.get("/api/metadata/taskdefs/bad").status_code == 404
    assert client.get("/api/metadata/workflow/bad_timeout").status_code == 404
