"""An operator's operations on one run, over HTTP against a real server, on both stores:
pause, resume, restart, retry, rerun, skip a task, set variables, decide."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.helpers import (
    complete,
    fail,
    finish,
    poll,
    register,
    run_of,
    simple_workflow,
    start,
    task_defs,
    wait_for_status,
)

pytestmark = pytest.mark.timeout(90)


def no_retries(client: httpx.Client, *names: str) -> None:
    task_defs(client, *({"name": n, "retryCount": 0} for n in names))


def states(run: dict[str, Any]) -> list[tuple[str, str]]:
    return [(t["referenceTaskName"], t["status"]) for t in run["tasks"]]


def conflict(response: httpx.Response, state: str) -> None:
    assert response.status_code == 409, response.text
    assert state in response.json()["message"]


def test_pause_records_results_but_schedules_nothing_until_resumed(client: httpx.Client) -> None:
    register(client, simple_workflow("pausing", ["pa", "pb"]))
    workflow_id = start(client, "pausing", {"x": 1})
    (task,) = poll(client, "pa")

    assert client.put(f"/api/workflow/{workflow_id}/pause").status_code == 200
    assert client.put(f"/api/workflow/{workflow_id}/pause").status_code == 200  # already paused: no change
    assert run_of(client, workflow_id)["status"] == "PAUSED"

    assert complete(client, task, {"done": True}).status_code == 200
    paused = run_of(client, workflow_id)
    assert paused["status"] == "PAUSED"
    assert states(paused) == [("pa_0", "COMPLETED")]
    assert client.get("/api/tasks/queue/sizes", params={"taskType": "pb"}).json() == {"pb": 0}

    assert client.put(f"/api/workflow/{workflow_id}/resume").status_code == 200
    conflict(client.put(f"/api/workflow/{workflow_id}/resume"), "RUNNING")
    assert states(run_of(client, workflow_id)) == [("pa_0", "COMPLETED"), ("pb_1", "SCHEDULED")]
    finish(client, "pb")
    wait_for_status(client, workflow_id, "COMPLETED")

    conflict(client.put(f"/api/workflow/{workflow_id}/pause"), "COMPLETED")
    conflict(client.put(f"/api/workflow/{workflow_id}/resume"), "COMPLETED")
    for path in ("pause", "resume"):
        missing = client.put(f"/api/workflow/no-such-run/{path}")
        assert missing.status_code == 404 and "no-such-run" in missing.json()["message"]


def test_a_paused_run_does_not_retry_a_failed_step_until_resumed(client: httpx.Client) -> None:
    response = client.post("/api/metadata/taskdefs", json=[{"name": "flaky", "retryCount": 1, "retryDelaySeconds": 0}])
    assert response.status_code == 200
    register(client, simple_workflow("paused_retry", ["flaky"]))
    workflow_id = start(client, "paused_retry")
    (task,) = poll(client, "flaky")
    assert client.put(f"/api/workflow/{workflow_id}/pause").status_code == 200

    fail(client, task)
    assert states(run_of(client, workflow_id)) == [("flaky_0", "FAILED")]

    assert client.put(f"/api/workflow/{workflow_id}/resume").status_code == 200
    resumed = run_of(client, workflow_id)
    assert states(resumed) == [("flaky_0", "FAILED"), ("flaky_0", "SCHEDULED")]
    assert resumed["tasks"][1]["retryCount"] == 1


def test_restart_an_ended_run_from_the_start(client: httpx.Client) -> None:
    register(client, simple_workflow("restarting", ["ra", "rb"]))
    workflow_id = start(client, "restarting", {"x": 7})
    first = finish(client, "ra", {"n": 1})
    conflict(client.post(f"/api/workflow/{workflow_id}/restart"), "RUNNING")
    assert client.delete(f"/api/workflow/{workflow_id}", params={"reason": "stop"}).status_code == 200

    response = client.post(f"/api/workflow/{workflow_id}/restart")
    assert response.status_code == 204, response.text

    again = run_of(client, workflow_id)
    assert (again["status"], again["input"], again["reasonForIncompletion"]) == ("RUNNING", {"x": 7}, None)
    assert again["endTime"] == 0
    assert states(again) == [("ra_0", "SCHEDULED")]
    assert again["tasks"][0]["taskId"] != first["taskId"]
    assert client.get(f"/api/tasks/{first['taskId']}").status_code == 404
    (task,) = poll(client, "ra")
    assert task["inputData"]["x"] == 7
    complete(client, task)
    finish(client, "rb")
    wait_for_status(client, workflow_id, "COMPLETED")
    assert client.post("/api/workflow/no-such-run/restart").status_code == 404


def test_restart_with_the_latest_definition(client: httpx.Client) -> None:
    register(client, simple_workflow("evolving", ["ev"]))
    workflow_id = start(client, "evolving", {"name": "Ada"})
    assert client.delete(f"/api/workflow/{workflow_id}").status_code == 200
    latest = {
        "name": "evolving",
        "version": 2,
        "tasks": [
            {
                "name": "greet",
                "taskReferenceName": "greet",
                "type": "INLINE",
                "inputParameters": {
                    "evaluatorType": "javascript",
                    "expression": "'Hello, ' + $.who",
                    "who": "${workflow.input.name}",
                },
            }
        ],
        "outputParameters": {"greeting": "${greet.output.result}"},
    }
    register(client, latest)

    kept = client.post(f"/api/workflow/{workflow_id}/restart", params={"useLatestDefinitions": "false"})
    assert kept.status_code == 204
    assert run_of(client, workflow_id)["workflowVersion"] == 1
    assert client.delete(f"/api/workflow/{workflow_id}").status_code == 200

    moved = client.post(f"/api/workflow/{workflow_id}/restart", params={"useLatestDefinitions": "true"})
    assert moved.status_code == 204
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert (run["workflowVersion"], run["output"]) == (2, {"greeting": "Hello, Ada"})

    bad = client.post(f"/api/workflow/{workflow_id}/restart", params={"useLatestDefinitions": "maybe"})
    assert bad.status_code == 400 and bad.json()["validationErrors"][0]["path"] == "useLatestDefinitions"


def test_a_completed_run_of_a_non_restartable_definition_is_not_restarted(client: httpx.Client) -> None:
    register(client, simple_workflow("once_only", ["oo"], restartable=False))
    workflow_id = start(client, "once_only")
    finish(client, "oo")
    wait_for_status(client, workflow_id, "COMPLETED")

    refused = client.post(f"/api/workflow/{workflow_id}/restart")

    conflict(refused, "COMPLETED")
    assert "not restartable" in refused.json()["message"]
    assert states(run_of(client, workflow_id)) == [("oo_0", "COMPLETED")]


def test_retry_runs_the_failed_step_again_not_the_whole_run(client: httpx.Client) -> None:
    no_retries(client, "ta", "tb")
    register(client, simple_workflow("retrying", ["ta", "tb"]))
    workflow_id = start(client, "retrying", {"x": 3})
    done = finish(client, "ta", {"a": 1})
    conflict(client.post(f"/api/workflow/{workflow_id}/retry"), "RUNNING")
    (failing,) = poll(client, "tb")
    fail(client, failing, "tb broke")
    failed = wait_for_status(client, workflow_id, "FAILED")
    assert failed["failedReferenceTaskNames"] == ["tb_1"]

    response = client.post(f"/api/workflow/{workflow_id}/retry", params={"resumeSubworkflowTasks": "false"})
    assert response.status_code == 204, response.text

    retried = run_of(client, workflow_id)
    assert (retried["status"], retried["reasonForIncompletion"], retried["failedReferenceTaskNames"]) == (
        "RUNNING",
        None,
        [],
    )
    assert states(retried) == [("ta_0", "COMPLETED"), ("tb_1", "FAILED"), ("tb_1", "SCHEDULED")]
    new_attempt = retried["tasks"][2]
    assert (new_attempt["retryCount"], new_attempt["retriedTaskId"]) == (1, failing["taskId"])
    assert retried["tasks"][0]["taskId"] == done["taskId"]
    (task,) = poll(client, "tb")
    assert task["inputData"]["previous"] == {"a": 1}
    complete(client, task)
    wait_for_status(client, workflow_id, "COMPLETED")
    conflict(client.post(f"/api/workflow/{workflow_id}/retry"), "COMPLETED")


def test_retry_a_terminated_run_schedules_its_cancelled_step(client: httpx.Client) -> None:
    register(client, simple_workflow("retry_terminated", ["rt"]))
    workflow_id = start(client, "retry_terminated")
    assert client.delete(f"/api/workflow/{workflow_id}").status_code == 200

    assert client.post(f"/api/workflow/{workflow_id}/retry").status_code == 204

    assert states(run_of(client, workflow_id)) == [("rt_0", "CANCELED"), ("rt_0", "SCHEDULED")]
    finish(client, "rt")
    wait_for_status(client, workflow_id, "COMPLETED")


def test_rerun_from_a_task_with_new_input(client: httpx.Client) -> None:
    register(client, simple_workflow("rerunning", ["xa", "xb", "xc"]))
    workflow_id = start(client, "rerunning", {"x": 1})
    conflict(client.post(f"/api/workflow/{workflow_id}/rerun", json={}), "RUNNING")
    finish(client, "xa", {"a": 1})
    middle = finish(client, "xb", {"b": 1})
    last = finish(client, "xc", {"c": 1})
    wait_for_status(client, workflow_id, "COMPLETED")

    response = client.post(
        f"/api/workflow/{workflow_id}/rerun",
        json={
            "reRunFromWorkflowId": workflow_id,
            "reRunFromTaskId": middle["taskId"],
            "taskInput": {"x": 42},
            "workflowInput": {"x": 2},
            "correlationId": "again",
        },
    )

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain") and response.text == workflow_id
    rerun = run_of(client, workflow_id)
    assert (rerun["status"], rerun["input"], rerun["correlationId"], rerun["output"]) == (
        "RUNNING",
        {"x": 2},
        "again",
        {},
    )
    assert states(rerun) == [("xa_0", "COMPLETED"), ("xb_1", "SCHEDULED")]
    assert rerun["tasks"][1]["taskId"] == middle["taskId"]
    assert client.get(f"/api/tasks/{last['taskId']}").status_code == 404
    (task,) = poll(client, "xb")
    assert (task["taskId"], task["inputData"], task["outputData"]) == (middle["taskId"], {"x": 42}, {})
    complete(client, task, {"b": 2})
    (third,) = poll(client, "xc")
    assert third["inputData"]["previous"] == {"b": 2} and third["inputData"]["x"] == 2
    complete(client, third)
    wait_for_status(client, workflow_id, "COMPLETED")

    unknown = client.post(f"/api/workflow/{workflow_id}/rerun", json={"reRunFromTaskId": "no-such-task"})
    assert unknown.status_code == 404 and "no-such-task" in unknown.json()["message"]
    malformed = client.post(f"/api/workflow/{workflow_id}/rerun", content=b'{"taskInput": [1]}')
    assert malformed.status_code == 400 and malformed.json()["validationErrors"][0]["path"] == "taskInput"
    assert run_of(client, workflow_id)["status"] == "COMPLETED"


def test_rerun_without_a_task_starts_over_with_new_input(client: httpx.Client) -> None:
    register(client, simple_workflow("rerun_all", ["ya", "yb"]))
    workflow_id = start(client, "rerun_all", {"x": 1})
    assert client.delete(f"/api/workflow/{workflow_id}").status_code == 200

    response = client.post(f"/api/workflow/{workflow_id}/rerun", json={"workflowInput": {"x": 5}})

    assert (response.status_code, response.text) == (200, workflow_id)
    (task,) = poll(client, "ya")
    assert task["inputData"]["x"] == 5
    assert states(run_of(client, workflow_id)) == [("ya_0", "IN_PROGRESS")]


def test_skip_a_pending_task_and_one_not_reached_yet(client: httpx.Client) -> None:
    register(client, simple_workflow("skipping", ["sa", "sb", "sc"]))
    workflow_id = start(client, "skipping", {"x": 1})

    ahead = client.put(f"/api/workflow/{workflow_id}/skiptask/sb_1", json={"taskOutput": {"from": "operator"}})
    assert ahead.status_code == 200, ahead.text
    assert states(run_of(client, workflow_id)) == [("sa_0", "SCHEDULED"), ("sb_1", "SKIPPED")]
    # conductor-python sends its request as Python text in a query parameter: ignored, as Conductor does.
    pending = client.put(
        f"/api/workflow/{workflow_id}/skiptask/sa_0", params={"skipTaskRequest": "{'taskOutput': {'a': 1}}"}
    )
    assert pending.status_code == 200, pending.text

    run = run_of(client, workflow_id)
    assert states(run) == [("sa_0", "SKIPPED"), ("sb_1", "SKIPPED"), ("sc_2", "SCHEDULED")]
    assert run["tasks"][1]["outputData"] == {"from": "operator"}
    assert run["tasks"][0]["outputData"] == {}
    assert client.get("/api/tasks/queue/sizes", params={"taskType": "sa"}).json() == {"sa": 0}
    conflict(client.put(f"/api/workflow/{workflow_id}/skiptask/sa_0"), "SKIPPED")
    unknown = client.put(f"/api/workflow/{workflow_id}/skiptask/no_such_ref")
    assert unknown.status_code == 404 and "no_such_ref" in unknown.json()["message"]
    bad = client.put(f"/api/workflow/{workflow_id}/skiptask/sc_2", json={"taskOutput": "nope"})
    assert bad.status_code == 400 and bad.json()["validationErrors"][0]["path"] == "taskOutput"

    finish(client, "sc")
    wait_for_status(client, workflow_id, "COMPLETED")
    conflict(client.put(f"/api/workflow/{workflow_id}/skiptask/sc_2"), "COMPLETED")


def test_skip_an_in_progress_task_ignores_its_late_result(client: httpx.Client) -> None:
    register(client, simple_workflow("skip_running", ["sr"]))
    workflow_id = start(client, "skip_running")
    (task,) = poll(client, "sr")
    assert client.put(f"/api/workflow/{workflow_id}/pause").status_code == 200
    conflict(client.put(f"/api/workflow/{workflow_id}/skiptask/sr_0"), "PAUSED")
    assert client.put(f"/api/workflow/{workflow_id}/resume").status_code == 200

    assert client.put(f"/api/workflow/{workflow_id}/skiptask/sr_0", json={"taskOutput": {"y": 1}}).status_code == 200

    done = wait_for_status(client, workflow_id, "COMPLETED")
    assert done["output"] == {"y": 1}
    late = complete(client, task)  # answered 200 and not applied, as Conductor does
    assert (late.status_code, late.text) == (200, task["taskId"])
    assert run_of(client, workflow_id)["tasks"][0]["status"] == "SKIPPED"
    assert "is already SKIPPED" in client.get(f"/api/tasks/{task['taskId']}/log").json()[-1]["log"]


def test_variables_steer_a_later_switch_and_decide(client: httpx.Client) -> None:
    definition = {
        "name": "steered",
        "variables": {"route": "left"},
        "tasks": [
            {"name": "va", "taskReferenceName": "va", "type": "SIMPLE"},
            {
                "name": "which",
                "taskReferenceName": "which",
                "type": "SWITCH",
                "evaluatorType": "value-param",
                "expression": "route",
                "inputParameters": {"route": "${workflow.variables.route}"},
                "decisionCases": {"right": [{"name": "vright", "taskReferenceName": "vright", "type": "SIMPLE"}]},
                "defaultCase": [{"name": "vleft", "taskReferenceName": "vleft", "type": "SIMPLE"}],
            },
        ],
    }
    register(client, definition)
    workflow_id = start(client, "steered")

    response = client.post(f"/api/workflow/{workflow_id}/variables", json={"route": "right", "extra": [1]})

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["workflowId"], body["variables"]) == (workflow_id, {"route": "right", "extra": [1]})
    assert client.put(f"/api/workflow/decide/{workflow_id}").status_code == 200
    finish(client, "va")
    finish(client, "vright")
    wait_for_status(client, workflow_id, "COMPLETED")

    assert client.put(f"/api/workflow/decide/{workflow_id}").status_code == 200  # nothing to do: not an error
    assert client.put("/api/workflow/decide/no-such-run").status_code == 404
    conflict(client.post(f"/api/workflow/{workflow_id}/variables", json={"route": "left"}), "COMPLETED")
    not_a_map = client.post(f"/api/workflow/{workflow_id}/variables", json=["route"])
    assert not_a_map.status_code == 400 and not_a_map.json()["validationErrors"][0]["path"] == "body"
    assert client.post("/api/workflow/no-such-run/variables", json={}).status_code == 404


@pytest.mark.own_server
def test_operations_survive_a_killed_server(server: ServerProcess) -> None:
    with server.client(timeout=30) as client:
        register(client, simple_workflow("durable_ops", ["da", "db"]))
        paused_id = start(client, "durable_ops")
        assert client.put(f"/api/workflow/{paused_id}/pause").status_code == 200
        restarted_id = start(client, "durable_ops")
        assert client.delete(f"/api/workflow/{restarted_id}").status_code == 200
        assert client.post(f"/api/workflow/{restarted_id}/restart").status_code == 204
        assert (
            client.post(f"/api/tasks/{run_of(client, restarted_id)['tasks'][0]['taskId']}/log", json="kept").status_code
            == 200
        )

    server.kill()
    server.start()

    with server.client(timeout=30) as client:
        assert run_of(client, paused_id)["status"] == "PAUSED"
        restarted = run_of(client, restarted_id)
        assert states(restarted) == [("da_0", "SCHEDULED")]
        assert [e["log"] for e in client.get(f"/api/tasks/{restarted['tasks'][0]['taskId']}/log").json()] == ["kept"]
        assert client.put(f"/api/workflow/{paused_id}/resume").status_code == 200
        for task_type in ("da", "db"):
            tasks = poll(client, task_type, count=2)
            assert {t["workflowInstanceId"] for t in tasks} == {paused_id, restarted_id}
            for task in tasks:
                assert complete(client, task).status_code == 200
        wait_for_status(client, paused_id, "COMPLETED")
        wait_for_status(client, restarted_id, "COMPLETED")
