"""Forks and joins over the wire, on both stores: FORK_JOIN, JOIN, EXCLUSIVE_JOIN and FORK_JOIN_DYNAMIC."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.helpers import complete, dynamic_fork_steps, poll, register, run_of, start, statuses, wait_for_status, worker

pytestmark = pytest.mark.timeout(120)


def work_all(client: httpx.Client, task_type: str, expected: int, output: Any = None) -> list[dict[str, Any]]:
    """Poll ``expected`` tasks of a type (in as many polls as it takes) and complete each."""
    done: list[dict[str, Any]] = []
    while len(done) < expected:
        tasks = poll(client, task_type, count=min(expected - len(done), 50))
        assert tasks, f"only {len(done)} of {expected} {task_type} tasks were handed out"
        for task in tasks:
            body = output(task) if callable(output) else {"ref": task["referenceTaskName"]}
            assert complete(client, task, body).status_code == 200
            done.append(task)
    return done


def test_a_fork_runs_branches_in_parallel_and_the_join_waits_for_all(client: httpx.Client) -> None:
    register(
        client,
        {
            "name": "fork_flow",
            "tasks": [
                {
                    "name": "fork",
                    "taskReferenceName": "fork",
                    "type": "FORK_JOIN",
                    "forkTasks": [
                        [worker("left", "fork_left"), worker("left2", "fork_left")],
                        [worker("right", "fork_right")],
                    ],
                },
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["left2", "right"]},
            ],
            "outputParameters": {"joined": "${join.output}"},
        },
    )
    workflow_id = start(client, "fork_flow")
    run = run_of(client, workflow_id)
    assert statuses(run) == {"fork": "COMPLETED", "left": "SCHEDULED", "right": "SCHEDULED", "join": "IN_PROGRESS"}
    assert {t["taskType"] for t in run["tasks"]} == {"FORK", "fork_left", "fork_right", "JOIN"}

    work_all(client, "fork_right", 1)
    work_all(client, "fork_left", 1)
    assert statuses(run_of(client, workflow_id))["join"] == "IN_PROGRESS", "left2 is still to run"
    work_all(client, "fork_left", 1)
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert run["output"] == {"joined": {"left2": {"ref": "left2"}, "right": {"ref": "right"}}}


def test_a_failing_branch_fails_the_run_and_an_exclusive_join_takes_the_case_that_ran(
    client: httpx.Client,
) -> None:
    response = client.post(
        "/api/metadata/taskdefs", json=[{"name": "fragile", "retryCount": 0, "responseTimeoutSeconds": 60}]
    )
    assert response.status_code == 200, response.text
    register(
        client,
        {
            "name": "fragile_fork",
            "tasks": [
                {
                    "name": "fork",
                    "taskReferenceName": "fork",
                    "type": "FORK_JOIN",
                    "forkTasks": [[worker("a", "fragile")], [worker("b", "steady")]],
                },
                {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["a", "b"]},
            ],
        },
    )
    workflow_id = start(client, "fragile_fork")
    [task] = poll(client, "fragile")
    failed = client.post(
        "/api/tasks",
        json={
            "taskId": task["taskId"],
            "workflowInstanceId": workflow_id,
            "status": "FAILED",
            "reasonForIncompletion": "no space left",
        },
    )
    assert failed.status_code == 200, failed.text
    run = wait_for_status(client, workflow_id, "FAILED")
    assert run["reasonForIncompletion"] == "no space left"
    assert statuses(run)["b"] == "CANCELED" and statuses(run)["join"] == "CANCELED"
    assert poll(client, "steady", timeout_ms=0) == []

    register(
        client,
        {
            "name": "exclusive",
            "tasks": [
                {
                    "name": "route",
                    "taskReferenceName": "route",
                    "type": "SWITCH",
                    "evaluatorType": "value-param",
                    "expression": "kind",
                    "inputParameters": {"kind": "${workflow.input.kind}"},
                    "decisionCases": {"card": [worker("card", "pay_card")], "bank": [worker("bank", "pay_bank")]},
                },
                {"name": "ej", "taskReferenceName": "ej", "type": "EXCLUSIVE_JOIN", "joinOn": ["card", "bank"]},
            ],
            "outputParameters": {"paid": "${ej.output.ref}"},
        },
    )
    workflow_id = start(client, "exclusive", {"kind": "bank"})
    work_all(client, "pay_bank", 1)
    assert wait_for_status(client, workflow_id, "COMPLETED")["output"] == {"paid": "bank"}


def dynamic_flow(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "tasks": dynamic_fork_steps(),
        "outputParameters": {"joined": "${fan_in.output}"},
    }


@pytest.mark.parametrize("branches", [0, 1, 120])
def test_a_dynamic_fork_of_none_one_and_many_branches(client: httpx.Client, branches: int) -> None:
    register(client, dynamic_flow("dynamic"))
    refs = [f"part{i}" for i in range(branches)]
    workflow_id = start(
        client,
        "dynamic",
        {
            "tasks": [worker(ref, "dyn_work") for ref in refs],
            "inputs": {ref: {"i": i} for i, ref in enumerate(refs)},
        },
    )
    work_all(client, "dyn_work", branches, output=lambda task: {"double": task["inputData"]["i"] * 2})
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert run["output"] == {"joined": {ref: {"double": i * 2} for i, ref in enumerate(refs)}}
    fork_task = next(t for t in run["tasks"] if t["referenceTaskName"] == "fan_out")
    assert fork_task["inputData"]["forkedTasks"] == refs
    assert len(run["tasks"]) == branches + 2


def test_the_same_task_dynamic_form_and_bad_dynamic_input(client: httpx.Client) -> None:
    register(
        client,
        {
            "name": "same_task",
            "tasks": [
                {
                    "name": "fan_out",
                    "taskReferenceName": "fan_out",
                    "type": "FORK_JOIN_DYNAMIC",
                    "inputParameters": {"forkTaskName": "resize", "forkTaskInputs": "${workflow.input.images}"},
                },
                {"name": "fan_in", "taskReferenceName": "fan_in", "type": "JOIN"},
            ],
        },
    )
    workflow_id = start(client, "same_task", {"images": [{"url": "a.png"}, {"url": "b.png"}]})
    done = work_all(client, "resize", 2, output=lambda task: {"url": task["inputData"]["url"]})
    assert sorted(t["referenceTaskName"] for t in done) == ["_resize_0", "_resize_1"]
    run = wait_for_status(client, workflow_id, "COMPLETED")
    fan_in = next(t for t in run["tasks"] if t["referenceTaskName"] == "fan_in")
    assert fan_in["outputData"] == {"_resize_0": {"url": "a.png"}, "_resize_1": {"url": "b.png"}}

    register(client, dynamic_flow("dynamic_bad"))
    workflow_id = start(client, "dynamic_bad", {"tasks": {"not": "a list"}, "inputs": {}})
    run = wait_for_status(client, workflow_id, "FAILED")
    assert "'tasks' must be a list" in run["reasonForIncompletion"]


def test_bad_fork_definitions_are_refused_naming_the_field(client: httpx.Client) -> None:
    definition = {
        "name": "bad_forks",
        "tasks": [
            worker("first", "w"),
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [[worker("a", "w"), worker("b", "w"), {"name": "w", "taskReferenceName": ""}]],
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["nowhere"]},
            {"name": "dyn", "taskReferenceName": "dyn", "type": "FORK_JOIN_DYNAMIC"},
            {"name": "dj", "taskReferenceName": "dj", "type": "JOIN"},
            {"name": "loop", "taskReferenceName": "loop", "type": "DO_WHILE", "loopOver": [worker("x", "w")]},
            {"name": "stray", "taskReferenceName": "stray", "type": "JOIN"},
        ],
    }
    response = client.post("/api/metadata/workflow", json=definition)
    assert response.status_code == 400, response.text
    fields = {error["path"] for error in response.json()["validationErrors"]}
    assert {
        "tasks[1].forkTasks[0][2].taskReferenceName",
        "tasks[2].joinOn[0]",
        "tasks[3].dynamicForkTasksParam",
        "tasks[3].dynamicForkTasksInputParamName",
        "tasks[5].loopCondition",
        "tasks[6].type",
    } <= fields
    assert client.get("/api/metadata/workflow/bad_forks").status_code == 404
