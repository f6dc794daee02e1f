"""SUB_WORKFLOW and START_WORKFLOW through a real server: the parent waits, and endings travel both ways."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.helpers import (
    ResilientWorker,
    child_workflow,
    fail_one,
    parent_workflow,
    poll,
    register,
    run_of,
    start,
    start_parent_with_retried_child,
    unique,
    wait_for_child,
    wait_for_status,
    work_one,
)


def test_the_parent_waits_for_its_child_and_gets_its_output(client: httpx.Client) -> None:
    parent_name, child_name, work_type = unique("parent"), unique("child"), unique("child_work")
    register(client, child_workflow(child_name, work_type))
    register(client, parent_workflow(parent_name, child=child_name))
    parent_id = start(client, parent_name, {"value": 21}, correlationId="corr-1")
    sub = wait_for_child(client, parent_id)
    child_id = sub["subWorkflowId"]
    assert sub["outputData"] == {"subWorkflowId": child_id}
    child = run_of(client, child_id)
    assert child["parentWorkflowId"] == parent_id
    assert child["parentWorkflowTaskId"] == sub["taskId"]
    assert child["input"] == {"value": 21}
    assert child["correlationId"] == "corr-1"
    assert run_of(client, parent_id)["status"] == "RUNNING"

    work_one(client, work_type)
    parent = wait_for_status(client, parent_id, "COMPLETED")
    [task] = parent["tasks"]
    assert task["status"] == "COMPLETED"
    assert task["subWorkflowId"] == child_id
    assert task["outputData"] == {"doubled": 42, "subWorkflowId": child_id}
    assert parent["output"] == {"fromChild": 42}
    assert run_of(client, child_id)["status"] == "COMPLETED"


def test_an_inline_child_definition_runs_as_the_child(client: httpx.Client) -> None:
    inline = {
        "name": "inline_child",
        "version": 1,
        "tasks": [
            {
                "name": "calc",
                "taskReferenceName": "calc",
                "type": "INLINE",
                "inputParameters": {
                    "evaluatorType": "javascript",
                    "expression": "$.value + 1",
                    "value": "${workflow.input.value}",
                },
            }
        ],
        "outputParameters": {"doubled": "${calc.output.result}"},
    }
    definition = parent_workflow("parent_inline")
    definition["tasks"][0]["subWorkflowParam"] = {"name": "inline_child", "workflowDefinition": inline}
    register(client, definition)
    parent = wait_for_status(client, start(client, "parent_inline", {"value": 1}), "COMPLETED")
    assert parent["output"] == {"fromChild": 2}
    child = run_of(client, parent["tasks"][0]["subWorkflowId"])
    assert child["workflowName"] == "inline_child" and child["status"] == "COMPLETED"


def test_a_failed_child_fails_the_parent_task_and_a_retry_starts_a_new_child(client: httpx.Client) -> None:
    parent_id, work_type = start_parent_with_retried_child(client, 5)
    fail_one(client, work_type)
    work_one(client, work_type)
    parent = wait_for_status(client, parent_id, "COMPLETED")
    first, second = parent["tasks"]
    assert first["status"] == "FAILED" and second["status"] == "COMPLETED"
    assert "child work broke" in first["reasonForIncompletion"]
    assert first["subWorkflowId"] != second["subWorkflowId"]
    assert run_of(client, first["subWorkflowId"])["status"] == "FAILED"
    assert parent["output"] == {"fromChild": 10}


def test_a_failed_child_without_retries_fails_the_parent(client: httpx.Client) -> None:
    parent_name, child_name, work_type = unique("parent"), unique("child"), unique("child_work")
    register(client, child_workflow(child_name, work_type))
    register(client, parent_workflow(parent_name, child=child_name))
    parent_id = start(client, parent_name, {"value": 5})
    fail_one(client, work_type)
    parent = wait_for_status(client, parent_id, "FAILED")
    assert parent["tasks"][0]["status"] == "FAILED"
    assert parent["failedReferenceTaskNames"] == ["sub"]


def test_terminating_the_child_fails_the_parent_task(client: httpx.Client) -> None:
    parent_name, child_name, work_type = unique("parent"), unique("child"), unique("child_work")
    register(client, child_workflow(child_name, work_type))
    register(client, parent_workflow(parent_name, child=child_name))
    parent_id = start(client, parent_name, {"value": 5})
    child_id = wait_for_child(client, parent_id)["subWorkflowId"]
    assert client.delete(f"/api/workflow/{child_id}", params={"reason": "operator"}).status_code == 200
    parent = wait_for_status(client, parent_id, "FAILED")
    assert "TERMINATED" in parent["tasks"][0]["reasonForIncompletion"]


def test_terminating_the_parent_terminates_its_running_child(client: httpx.Client) -> None:
    parent_name, child_name, work_type = unique("parent"), unique("child"), unique("child_work")
    register(client, child_workflow(child_name, work_type))
    register(client, parent_workflow(parent_name, child=child_name))
    parent_id = start(client, parent_name, {"value": 5})
    child_id = wait_for_child(client, parent_id)["subWorkflowId"]
    assert client.delete(f"/api/workflow/{parent_id}", params={"reason": "stop all"}).status_code == 200
    child = wait_for_status(client, child_id, "TERMINATED")
    assert parent_id in child["reasonForIncompletion"] and "stop all" in child["reasonForIncompletion"]
    assert run_of(client, parent_id)["tasks"][0]["status"] == "CANCELED"
    assert poll(client, work_type, timeout_ms=0) == []


def test_nested_two_levels_completes_from_the_bottom_up(client: httpx.Client) -> None:
    leaf_name, leaf_work, middle_name, top_name = unique("leaf"), unique("leaf_work"), unique("middle"), unique("top")
    register(client, child_workflow(leaf_name, leaf_work))
    middle = parent_workflow(middle_name, child=leaf_name)
    middle["outputParameters"] = {"doubled": "${sub.output.doubled}"}
    register(client, middle)
    register(client, parent_workflow(top_name, child=middle_name))
    top_id = start(client, top_name, {"value": 4})
    middle_id = wait_for_child(client, top_id)["subWorkflowId"]
    leaf_id = wait_for_child(client, middle_id)["subWorkflowId"]
    assert run_of(client, leaf_id)["parentWorkflowId"] == middle_id
    work_one(client, leaf_work)
    top = wait_for_status(client, top_id, "COMPLETED")
    assert top["output"] == {"fromChild": 8}
    assert run_of(client, middle_id)["status"] == "COMPLETED"


def test_terminating_the_top_terminates_the_whole_tree(client: httpx.Client) -> None:
    leaf_name, leaf_work, middle_name, top_name = unique("leaf"), unique("leaf_work"), unique("middle"), unique("top")
    register(client, child_workflow(leaf_name, leaf_work))
    register(client, parent_workflow(middle_name, child=leaf_name))
    register(client, parent_workflow(top_name, child=middle_name))
    top_id = start(client, top_name, {"value": 4})
    middle_id = wait_for_child(client, top_id)["subWorkflowId"]
    leaf_id = wait_for_child(client, middle_id)["subWorkflowId"]
    assert client.delete(f"/api/workflow/{top_id}").status_code == 200
    wait_for_status(client, middle_id, "TERMINATED")
    wait_for_status(client, leaf_id, "TERMINATED")


def test_a_missing_child_definition_fails_the_task(client: httpx.Client) -> None:
    register(client, parent_workflow("orphan", child="nobody_registered_this"))
    parent = wait_for_status(client, start(client, "orphan", {"value": 1}), "FAILED")
    assert "nobody_registered_this" in parent["tasks"][0]["reasonForIncompletion"]


def test_bad_sub_workflow_steps_are_refused_naming_the_field(client: httpx.Client) -> None:
    definition = parent_workflow("bad_parent")
    del definition["tasks"][0]["subWorkflowParam"]
    response = client.post("/api/metadata/workflow", json=definition)
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["validationErrors"]] == ["tasks[0].subWorkflowParam"]
    definition["tasks"][0]["subWorkflowParam"] = {"version": 1}
    response = client.post("/api/metadata/workflow", json=definition)
    assert [e["path"] for e in response.json()["validationErrors"]] == ["tasks[0].subWorkflowParam.name"]
    definition["tasks"][0]["subWorkflowParam"] = {"name": "x", "workflowDefinition": {"name": "x", "tasks": []}}
    response = client.post("/api/metadata/workflow", json=definition)
    assert [e["path"] for e in response.json()["validationErrors"]] == [
        "tasks[0].subWorkflowParam.workflowDefinition.tasks"
    ]
    assert client.get("/api/metadata/workflow/bad_parent").status_code == 404


def test_start_workflow_starts_a_run_and_completes_at_once(client: httpx.Client) -> None:
    register(client, child_workflow("started"))
    register(
        client,
        {
            "name": "starter",
            "version": 1,
            "tasks": [
                {
                    "name": "kick_off",
                    "taskReferenceName": "kick",
                    "type": "START_WORKFLOW",
                    "inputParameters": {
                        "startWorkflow": {
                            "name": "started",
                            "version": 1,
                            "input": {"value": "${workflow.input.value}"},
                            "correlationId": "from-starter",
                        }
                    },
                }
            ],
        },
    )
    starter = wait_for_status(client, start(client, "starter", {"value": 3}), "COMPLETED")
    [task] = starter["tasks"]
    started_id = task["outputData"]["workflowId"]
    started = run_of(client, started_id)
    assert started["workflowName"] == "started" and started["status"] == "RUNNING"
    assert started["input"] == {"value": 3}
    assert started["correlationId"] == "from-starter"
    assert started.get("parentWorkflowId") is None


def test_start_workflow_without_a_name_is_refused(client: httpx.Client) -> None:
    definition = {
        "name": "bad_starter",
        "version": 1,
        "tasks": [
            {
                "name": "kick_off",
                "taskReferenceName": "kick",
                "type": "START_WORKFLOW",
                "inputParameters": {"startWorkflow": {"input": {}}},
            }
        ],
    }
    response = client.post("/api/metadata/workflow", json=definition)
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["validationErrors"]] == ["tasks[0].inputParameters.startWorkflow.name"]


RUNS = 30


@pytest.mark.slow
def test_sigkill_while_children_run_loses_no_parent(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short server-task lease, so a SUB_WORKFLOW claim cut off by the kill comes back soon after the restart.
    monkeypatch.setenv("BATON_SERVER_TASK_LEASE_SECONDS", "2")
    server = ServerProcess(store_url, tmp_path / "server.log")
    server.start()
    worker = ResilientWorker(server.url, lambda task: {"doubled": task["inputData"]["value"] * 2})
    try:
        with server.client(timeout=30) as client:
            client.post(
                "/api/metadata/taskdefs",
                json=[{"name": "child_work", "retryCount": 5, "retryDelaySeconds": 0, "responseTimeoutSeconds": 2}],
            )
            register(client, child_workflow())
            register(client, parent_workflow())
            parents = [start(client, "parent", {"value": i}, correlationId=f"p{i}") for i in range(RUNS)]
            worker.start(["child_work"], threads_per_type=1)
            deadline = time.monotonic() + 30
            while len(worker.acknowledged) < RUNS // 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            server.kill()
            acknowledged_before_kill = dict(worker.acknowledged)
            assert acknowledged_before_kill, "the kill came before any child step was done: the test proved nothing"
            assert len(acknowledged_before_kill) < RUNS, "the kill came after every child step: the test proved nothing"
            server.start()
            for index, parent_id in enumerate(parents):
                parent = wait_for_status(client, parent_id, "COMPLETED", timeout=60)
                assert parent["output"] == {"fromChild": index * 2}
                [sub] = parent["tasks"]
                assert sub["status"] == "COMPLETED"
                # Children share their parent's correlation id: exactly one child was ever started.
                children = client.get(f"/api/workflow/child/correlated/p{index}", params={"includeClosed": "true"})
                [child] = children.json()
                assert child["workflowId"] == sub["subWorkflowId"]
                assert child["status"] == "COMPLETED" and child["parentWorkflowId"] == parent_id
            for task_id, output in acknowledged_before_kill.items():
                task = client.get(f"/api/tasks/{task_id}").json()
                assert task["status"] == "COMPLETED" and task["outputData"] == output
    finally:
        worker.join()
        server.stop()


def test_rerun_from_the_sub_workflow_task_starts_a_new_child(client: httpx.Client) -> None:
    parent_name, child_name, work_type = unique("parent"), unique("child"), unique("child_work")
    register(client, child_workflow(child_name, work_type))
    register(client, parent_workflow(parent_name, child=child_name))
    parent_id = start(client, parent_name, {"value": 2})
    work_one(client, work_type)
    first = wait_for_status(client, parent_id, "COMPLETED")["tasks"][0]
    response = client.post(f"/api/workflow/{parent_id}/rerun", json={"reRunFromTaskId": first["taskId"]})
    assert response.status_code == 200, response.text
    second_child = wait_for_child(client, parent_id)["subWorkflowId"]
    assert second_child != first["subWorkflowId"]
    work_one(client, work_type, {"doubled": 40})
    parent = wait_for_status(client, parent_id, "COMPLETED")
    assert parent["output"] == {"fromChild": 40}
    assert parent["tasks"][0]["subWorkflowId"] == second_child
