"""DO_WHILE over the wire, on both stores: worker bodies, retries inside an iteration, items, keepLastN, nesting."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import finish, register, run_of, start, take, wait_for_status, worker

pytestmark = pytest.mark.timeout(120)


def test_a_loop_of_worker_tasks_with_a_retry_inside_an_iteration(client: httpx.Client) -> None:
    response = client.post(
        "/api/metadata/taskdefs",
        json=[{"name": "page", "retryCount": 1, "retryDelaySeconds": 0, "responseTimeoutSeconds": 60}],
    )
    assert response.status_code == 200, response.text
    register(
        client,
        {
            "name": "pager",
            "tasks": [
                {
                    "name": "pages",
                    "taskReferenceName": "pages",
                    "type": "DO_WHILE",
                    "inputParameters": {"last": "${workflow.input.last}"},
                    "loopCondition": "$.fetch['page'] < $.last",
                    "loopOver": [worker("fetch", "page", inputParameters={"n": "${pages.output.iteration}"})],
                },
            ],
            "outputParameters": {"count": "${pages.output.iteration}", "final": "${fetch.output.page}"},
        },
    )
    workflow_id = start(client, "pager", {"last": 3})
    first = finish(client, "page", {"page": 1})
    assert first["referenceTaskName"] == "fetch__1" and first["inputData"] == {"n": 1}
    flaky = take(client, "page")
    assert flaky["referenceTaskName"] == "fetch__2"
    failed = client.post(
        "/api/tasks",
        json={
            "taskId": flaky["taskId"],
            "workflowInstanceId": workflow_id,
            "status": "FAILED",
            "reasonForIncompletion": "503",
        },
    )
    assert failed.status_code == 200, failed.text
    retry = finish(client, "page", {"page": 2})
    assert retry["referenceTaskName"] == "fetch__2" and retry["retryCount"] == 1 and retry["iteration"] == 2
    finish(client, "page", {"page": 3})
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert run["output"] == {"count": 3, "final": 3}
    loop = next(t for t in run["tasks"] if t["referenceTaskName"] == "pages")
    assert loop["outputData"]["iteration"] == 3
    assert loop["outputData"]["2"] == {"fetch": {"page": 2}}
    assert [t["referenceTaskName"] for t in run["tasks"]] == [
        "pages",
        "fetch__1",
        "fetch__2",
        "fetch__2",
        "fetch__3",
    ]


def test_a_loop_over_items_keeping_the_last_two_iterations(client: httpx.Client) -> None:
    register(
        client,
        {
            "name": "each_item",
            "tasks": [
                {
                    "name": "each",
                    "taskReferenceName": "each",
                    "type": "DO_WHILE",
                    "items": "${workflow.input.items}",
                    "inputParameters": {"keepLastN": 2},
                    "loopOver": [worker("handle", "handle_item", inputParameters={"item": "${each.output.loopItem}"})],
                },
            ],
        },
    )
    workflow_id = start(client, "each_item", {"items": ["a", "b", "c", "d"]})
    seen = [finish(client, "handle_item", {"done": True})["inputData"]["item"] for _ in range(4)]
    assert seen == ["a", "b", "c", "d"]
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert [t["referenceTaskName"] for t in run["tasks"]] == ["each", "handle__3", "handle__4"]
    loop = run["tasks"][0]
    assert loop["outputData"]["iteration"] == 4 and "1" not in loop["outputData"] and "4" in loop["outputData"]


def test_a_fork_inside_a_loop_and_a_loop_inside_a_fork(client: httpx.Client) -> None:
    fork_in_loop = {
        "name": "loop",
        "taskReferenceName": "loop",
        "type": "DO_WHILE",
        "loopCondition": "$.loop['iteration'] < 2",
        "loopOver": [
            {
                "name": "fork",
                "taskReferenceName": "fork",
                "type": "FORK_JOIN",
                "forkTasks": [[worker("x", "nest_x")], [worker("y", "nest_y")]],
            },
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": ["x", "y"]},
        ],
    }
    loop_in_fork = {
        "name": "outer",
        "taskReferenceName": "outer",
        "type": "FORK_JOIN",
        "forkTasks": [
            [
                {
                    "name": "inner",
                    "taskReferenceName": "inner",
                    "type": "DO_WHILE",
                    "loopCondition": "$.inner['iteration'] < 2",
                    "loopOver": [worker("z", "nest_z")],
                }
            ],
            [worker("w", "nest_w")],
        ],
    }
    register(
        client,
        {
            "name": "nested",
            "tasks": [
                fork_in_loop,
                loop_in_fork,
                {"name": "outer_join", "taskReferenceName": "outer_join", "type": "JOIN", "joinOn": ["inner", "w"]},
            ],
        },
    )
    workflow_id = start(client, "nested")
    for iteration in (1, 2):
        assert finish(client, "nest_y")["referenceTaskName"] == f"y__{iteration}"
        assert finish(client, "nest_x")["referenceTaskName"] == f"x__{iteration}"
    finish(client, "nest_w")
    assert finish(client, "nest_z")["referenceTaskName"] == "z__1"
    assert run_of(client, workflow_id)["status"] == "RUNNING"
    assert finish(client, "nest_z", {"last": True})["referenceTaskName"] == "z__2"
    run = wait_for_status(client, workflow_id, "COMPLETED")
    joins = {t["referenceTaskName"]: t for t in run["tasks"] if t["taskType"] == "JOIN"}
    assert set(joins) == {"join__1", "join__2", "outer_join"}
    assert joins["outer_join"]["outputData"]["inner"]["iteration"] == 2


def test_a_failure_inside_a_loop_fails_the_run(client: httpx.Client) -> None:
    response = client.post(
        "/api/metadata/taskdefs", json=[{"name": "brittle", "retryCount": 0, "responseTimeoutSeconds": 60}]
    )
    assert response.status_code == 200, response.text
    register(
        client,
        {
            "name": "brittle_loop",
            "tasks": [
                {
                    "name": "lp",
                    "taskReferenceName": "lp",
                    "type": "DO_WHILE",
                    "loopCondition": "true",
                    "loopOver": [worker("b", "brittle")],
                }
            ],
        },
    )
    workflow_id = start(client, "brittle_loop")
    finish(client, "brittle")
    task = take(client, "brittle")
    response = client.post(
        "/api/tasks",
        json={
            "taskId": task["taskId"],
            "workflowInstanceId": workflow_id,
            "status": "FAILED_WITH_TERMINAL_ERROR",
            "reasonForIncompletion": "bad record",
        },
    )
    assert response.status_code == 200, response.text
    run = wait_for_status(client, workflow_id, "FAILED")
    assert run["reasonForIncompletion"] == "bad record"
    assert run["failedReferenceTaskNames"] == ["b__2"]
