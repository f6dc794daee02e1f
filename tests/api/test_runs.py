"""Reading and ending runs: status, correlation, terminate, remove; and system tasks end to end."""

from __future__ import annotations

import httpx

from tests.helpers import complete, poll, register, run_of, simple_workflow, start, wait_for_status


def test_status_correlated_terminate_and_remove(client: httpx.Client) -> None:
    register(client, simple_workflow("lifecycle", ["runs_step"]))
    first = start(client, "lifecycle", correlationId="c-1")
    second = start(client, "lifecycle", correlationId="c-1")
    start(client, "lifecycle", correlationId="c-2")

    status = client.get(f"/api/workflow/{first}/status").json()
    assert (status["workflowId"], status["status"]) == (first, "RUNNING")
    without_tasks = client.get(f"/api/workflow/{first}", params={"includeTasks": "false"}).json()
    assert without_tasks["tasks"] == []

    correlated = client.get("/api/workflow/lifecycle/correlated/c-1").json()
    assert {r["workflowId"] for r in correlated} == {first, second}

    assert client.delete(f"/api/workflow/{first}", params={"reason": "not needed"}).status_code == 200
    ended = run_of(client, first)
    assert (ended["status"], ended["reasonForIncompletion"]) == ("TERMINATED", "not needed")
    assert ended["tasks"][0]["status"] == "CANCELED"
    again = client.delete(f"/api/workflow/{first}")
    assert again.status_code == 409
    assert "TERMINATED" in again.json()["message"]
    assert [r["workflowId"] for r in client.get("/api/workflow/lifecycle/correlated/c-1").json()] == [second]
    closed = client.get("/api/workflow/lifecycle/correlated/c-1", params={"includeClosed": "true"}).json()
    assert {r["workflowId"] for r in closed} == {first, second}

    (task,) = poll(client, "runs_step")
    assert task["workflowInstanceId"] == second
    assert complete(client, task).status_code == 200
    wait_for_status(client, second, "COMPLETED")
    assert client.delete(f"/api/workflow/{second}").status_code == 409

    assert client.delete(f"/api/workflow/{second}/remove").status_code == 200
    assert client.get(f"/api/workflow/{second}").status_code == 404
    assert client.get(f"/api/tasks/{task['taskId']}").status_code == 404
    assert client.delete(f"/api/workflow/{second}/remove").status_code == 404


def test_system_tasks_switch_set_variable_jq_and_terminate(client: httpx.Client) -> None:
    definition = {
        "name": "routing",
        "tasks": [
            {
                "name": "remember",
                "taskReferenceName": "remember",
                "type": "SET_VARIABLE",
                "inputParameters": {"tier": "${workflow.input.tier}"},
            },
            {
                "name": "route",
                "taskReferenceName": "route",
                "type": "SWITCH",
                "evaluatorType": "javascript",
                "expression": "$.tier == 'gold' ? 'vip' : 'standard'",
                "inputParameters": {"tier": "${workflow.variables.tier}"},
                "decisionCases": {
                    "vip": [
                        {
                            "name": "shape",
                            "taskReferenceName": "shape",
                            "type": "JSON_JQ_TRANSFORM",
                            "inputParameters": {"queryExpression": ".items | map(. * 2)", "items": [1, 2, 3]},
                        }
                    ]
                },
                "defaultCase": [
                    {
                        "name": "stop",
                        "taskReferenceName": "stop",
                        "type": "TERMINATE",
                        "inputParameters": {
                            "terminationStatus": "FAILED",
                            "terminationReason": "not gold",
                            "workflowOutput": {"tier": "${workflow.variables.tier}"},
                        },
                    }
                ],
            },
        ],
        "outputParameters": {"doubled": "${shape.output.result}", "tier": "${workflow.variables.tier}"},
    }
    register(client, definition)
    gold = client.post("/api/workflow/execute/routing", json={"input": {"tier": "gold"}}).json()
    assert (gold["status"], gold["output"]) == ("COMPLETED", {"doubled": [2, 4, 6], "tier": "gold"})
    assert gold["variables"] == {"tier": "gold"}
    silver = client.post("/api/workflow/execute/routing", json={"input": {"tier": "silver"}}).json()
    assert silver["status"] == "FAILED"
    assert silver["output"] == {"tier": "silver"}


def test_a_runaway_script_fails_its_task_and_the_server_stays_healthy(client: httpx.Client) -> None:
    register(
        client,
        {
            "name": "runaway",
            "tasks": [
                {
                    "name": "spin",
                    "taskReferenceName": "spin",
                    "type": "INLINE",
                    "inputParameters": {"evaluatorType": "javascript", "expression": "while (true) {}"},
                }
            ],
        },
    )
    body = client.post("/api/workflow/execute/runaway", json={}).json()
    assert body["status"] == "FAILED"
    assert body["tasks"][0]["reasonForIncompletion"] == "INLINE 'spin' exceeded 1000 ms"
    assert client.get("/health").status_code == 200


def test_wait_with_a_duration_completes_by_its_timer(client: httpx.Client) -> None:
    register(
        client,
        {
            "name": "pause",
            "tasks": [{"name": "w", "taskReferenceName": "w", "type": "WAIT", "inputParameters": {"duration": "1s"}}],
        },
    )
    workflow_id = start(client, "pause")
    assert run_of(client, workflow_id)["tasks"][0]["status"] == "IN_PROGRESS"
    wait_for_status(client, workflow_id, "COMPLETED", timeout=10)


def test_unknown_routes_and_oversized_bodies(client: httpx.Client) -> None:
    missing = client.get("/api/nothing-here")
    assert missing.status_code == 404
    assert "No route" in missing.json()["message"]
    register(client, simple_workflow("big", ["big_step"]))
    huge = client.post("/api/workflow/big", json={"blob": "x" * (1024 * 1024 + 10)})
    assert huge.status_code == 413
    assert huge.json()["validationErrors"][0]["path"] == "body"
    assert client.get("/api/tasks/queue/sizes", params={"taskType": "big_step"}).json() == {"big_step": 0}
