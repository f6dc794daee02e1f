"""Lifecycle operations on runs with sub-workflows, and how a SUB_WORKFLOW step names its child; real server.

``retry?resumeSubworkflowTasks=true`` retries the failed child and the parent's step waits for that same child
again; a retry of a child on its own brings its parent back to wait for it (Conductor's ``updateAndPushParents``).
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.helpers import (
    child_workflow,
    fail_one,
    parent_workflow,
    register,
    run_of,
    start,
    start_parent_with_retried_child,
    unique,
    wait_for_child,
    wait_for_status,
    work_one,
)


def retry(client: httpx.Client, workflow_id: str, **params: str) -> httpx.Response:
    return client.post(f"/api/workflow/{workflow_id}/retry", params=params)


def failed_parent(client: httpx.Client, name: str, work_type: str, value: int = 5) -> tuple[dict[str, Any], str]:
    """A parent whose child's worker step failed for good: the parent run (FAILED) and its child's id."""
    parent_id = start(client, name, {"value": value})
    child_id = wait_for_child(client, parent_id)["subWorkflowId"]
    fail_one(client, work_type)
    wait_for_status(client, child_id, "FAILED")
    return wait_for_status(client, parent_id, "FAILED"), child_id


def only_task(run: dict[str, Any], ref: str) -> dict[str, Any]:
    [task] = [t for t in run["tasks"] if t["referenceTaskName"] == ref]
    return task


def test_resume_retries_the_failed_child_and_the_parent_waits_for_that_same_child(client: httpx.Client) -> None:
    parent_name, child_name, work_type = unique("parent"), unique("child"), unique("child_work")
    register(client, child_workflow(child_name, work_type))
    register(client, parent_workflow(parent_name, child=child_name))
    parent, child_id = failed_parent(client, parent_name, work_type)
    failed_sub = only_task(parent, "sub")
    assert failed_sub["status"] == "FAILED"

    assert retry(client, parent["workflowId"], resumeSubworkflowTasks="true").status_code == 204

    # Done before the answer: the parent runs, its step waits for the same child, which runs its failed step again.
    parent = run_of(client, parent["workflowId"])
    assert parent["status"] == "RUNNING" and parent.get("reasonForIncompletion") is None
    sub = only_task(parent, "sub")
    assert (sub["taskId"], sub["status"], sub["subWorkflowId"]) == (failed_sub["taskId"], "IN_PROGRESS", child_id)
    assert sub.get("reasonForIncompletion") is None
    child = run_of(client, child_id)
    assert child["status"] == "RUNNING"
    attempts = [(t["status"], t["retryCount"]) for t in child["tasks"]]
    assert attempts == [("FAILED_WITH_TERMINAL_ERROR", 0), ("SCHEDULED", 1)]
    logs = client.get(f"/api/tasks/{sub['taskId']}/log").json()
    assert [line["log"] for line in logs] == [f"Sub workflow {child_id} retried."]

    work_one(client, work_type)
    parent = wait_for_status(client, parent["workflowId"], "COMPLETED")
    assert parent["output"] == {"fromChild": 10}
    sub = only_task(parent, "sub")
    assert (sub["status"], sub["subWorkflowId"]) == ("COMPLETED", child_id)
    assert run_of(client, child_id)["status"] == "COMPLETED"


def test_without_the_flag_the_failed_step_starts_a_new_child(client: httpx.Client) -> None:
    parent_name, child_name, work_type = unique("parent"), unique("child"), unique("child_work")
    register(client, child_workflow(child_name, work_type))
    register(client, parent_workflow(parent_name, child=child_name))
    parent, first_child = failed_parent(client, parent_name, work_type)

    assert retry(client, parent["workflowId"]).status_code == 204
    second_child = wait_for_child(client, parent["workflowId"])["subWorkflowId"]
    assert second_child != first_child
    work_one(client, work_type)
    parent = wait_for_status(client, parent["workflowId"], "COMPLETED")
    assert [t["status"] for t in parent["tasks"]] == ["FAILED", "COMPLETED"]
    assert run_of(client, first_child)["status"] == "FAILED"


def test_retrying_the_child_on_its_own_brings_its_parent_back_to_wait_for_it(client: httpx.Client) -> None:
    parent_name, child_name, work_type = unique("parent"), unique("child"), unique("child_work")
    register(client, child_workflow(child_name, work_type))
    register(client, parent_workflow(parent_name, child=child_name))
    parent, child_id = failed_parent(client, parent_name, work_type)

    assert retry(client, child_id).status_code == 204

    resumed = run_of(client, parent["workflowId"])
    assert resumed["status"] == "RUNNING"
    sub = only_task(resumed, "sub")
    assert (sub["taskId"], sub["status"]) == (only_task(parent, "sub")["taskId"], "IN_PROGRESS")
    work_one(client, work_type)
    assert wait_for_status(client, parent["workflowId"], "COMPLETED")["output"] == {"fromChild": 10}


def test_restarting_or_rerunning_the_child_brings_its_parent_back_too(client: httpx.Client) -> None:
    parent_name, child_name, work_type = unique("parent"), unique("child"), unique("child_work")
    register(client, child_workflow(child_name, work_type))
    register(client, parent_workflow(parent_name, child=child_name))
    for operation in ("restart", "rerun"):
        parent, child_id = failed_parent(client, parent_name, work_type)
        sub = only_task(parent, "sub")
        body = {"reRunFromTaskId": run_of(client, child_id)["tasks"][0]["taskId"]} if operation == "rerun" else None
        response = client.post(f"/api/workflow/{child_id}/{operation}", json=body)
        assert response.status_code in (200, 204), response.text

        resumed = run_of(client, parent["workflowId"])
        assert resumed["status"] == "RUNNING"
        assert [(t["taskId"], t["status"]) for t in resumed["tasks"]] == [(sub["taskId"], "IN_PROGRESS")]
        word = {"restart": "restarted", "rerun": "reran"}[operation]
        logs = client.get(f"/api/tasks/{sub['taskId']}/log").json()
        assert [line["log"] for line in logs] == [f"Sub workflow {child_id} {word}."]
        work_one(client, work_type)
        assert wait_for_status(client, parent["workflowId"], "COMPLETED")["output"] == {"fromChild": 10}


def test_a_parent_that_started_another_child_is_left_alone(client: httpx.Client) -> None:
    parent_id, work_type = start_parent_with_retried_child(client, 5)
    first_child = wait_for_child(client, parent_id)["subWorkflowId"]
    fail_one(client, work_type)
    wait_for_status(client, first_child, "FAILED")
    # The step's own retry started a second child; retrying the first does not touch the parent.
    second_child = first_child
    deadline = time.monotonic() + 15
    while second_child == first_child:
        assert time.monotonic() < deadline, run_of(client, parent_id)
        time.sleep(0.05)
        second_child = wait_for_child(client, parent_id)["subWorkflowId"]

    assert retry(client, first_child).status_code == 204
    parent = run_of(client, parent_id)
    assert [(t["status"], t["subWorkflowId"]) for t in parent["tasks"]] == [
        ("FAILED", first_child),
        ("IN_PROGRESS", second_child),
    ]
    assert run_of(client, first_child)["status"] == "RUNNING"


def test_skipping_a_waiting_sub_workflow_task_terminates_its_child(client: httpx.Client) -> None:
    parent_name, child_name, work_type = unique("parent"), unique("child"), unique("child_work")
    register(client, child_workflow(child_name, work_type))
    register(client, parent_workflow(parent_name, child=child_name))
    parent_id = start(client, parent_name, {"value": 5})
    child_id = wait_for_child(client, parent_id)["subWorkflowId"]
    response = client.put(f"/api/workflow/{parent_id}/skiptask/sub", json={"taskOutput": {"doubled": 0}})
    assert response.status_code in (200, 204), response.text
    parent = wait_for_status(client, parent_id, "COMPLETED")
    assert only_task(parent, "sub")["status"] == "SKIPPED"
    child = wait_for_status(client, child_id, "TERMINATED")
    assert "skipped" in child["reasonForIncompletion"] and parent_id in child["reasonForIncompletion"]


def test_resume_goes_down_to_the_deepest_failed_child(client: httpx.Client) -> None:
    work_type, leaf_name, middle_name, top_name = unique("child_work"), unique("leaf"), unique("middle"), unique("top")
    register(client, child_workflow(leaf_name, work_type))
    middle = parent_workflow(middle_name, child=leaf_name)
    middle["outputParameters"] = {"doubled": "${sub.output.doubled}"}
    register(client, middle)
    register(client, parent_workflow(top_name, child=middle_name))
    top_id = start(client, top_name, {"value": 4})
    middle_id = wait_for_child(client, top_id)["subWorkflowId"]
    leaf_id = wait_for_child(client, middle_id)["subWorkflowId"]
    fail_one(client, work_type)
    for workflow_id in (leaf_id, middle_id, top_id):
        wait_for_status(client, workflow_id, "FAILED")

    assert retry(client, top_id, resumeSubworkflowTasks="true").status_code == 204

    for workflow_id, child_id in ((top_id, middle_id), (middle_id, leaf_id)):
        run = run_of(client, workflow_id)
        assert run["status"] == "RUNNING"
        assert [(t["status"], t["subWorkflowId"]) for t in run["tasks"]] == [("IN_PROGRESS", child_id)]
    assert run_of(client, leaf_id)["status"] == "RUNNING"
    work_one(client, work_type)
    assert wait_for_status(client, top_id, "COMPLETED")["output"] == {"fromChild": 8}
    assert run_of(client, middle_id)["status"] == "COMPLETED"


def test_a_child_with_no_failed_step_to_retry_is_replaced_by_a_new_one(client: httpx.Client) -> None:
    register(
        client,
        {
            "name": "gives_up",
            "version": 1,
            "tasks": [
                {
                    "name": "stop",
                    "taskReferenceName": "stop",
                    "type": "TERMINATE",
                    "inputParameters": {"terminationStatus": "FAILED", "terminationReason": "out of stock"},
                }
            ],
        },
    )
    register(client, parent_workflow("parent_of_quitter", child="gives_up"))
    parent_id = start(client, "parent_of_quitter", {"value": 1})
    first = only_task(wait_for_status(client, parent_id, "FAILED"), "sub")

    # The child ended FAILED by a TERMINATE task: it has no failed step, so it cannot be retried (as Conductor).
    assert retry(client, parent_id, resumeSubworkflowTasks="true").status_code == 204
    parent = wait_for_status(client, parent_id, "FAILED")
    assert [t["status"] for t in parent["tasks"]] == ["FAILED", "FAILED"]
    second = parent["tasks"][1]
    assert second["retriedTaskId"] == first["taskId"]
    assert second["subWorkflowId"] not in (None, first["subWorkflowId"])
    assert run_of(client, first["subWorkflowId"])["status"] == "FAILED"


def test_bad_retry_requests_are_refused_and_change_nothing(client: httpx.Client) -> None:
    parent_name, child_name, work_type = unique("parent"), unique("child"), unique("child_work")
    register(client, child_workflow(child_name, work_type))
    register(client, parent_workflow(parent_name, child=child_name))
    parent_id = start(client, parent_name, {"value": 5})
    child_id = wait_for_child(client, parent_id)["subWorkflowId"]
    before = run_of(client, parent_id)

    response = retry(client, parent_id, resumeSubworkflowTasks="maybe")
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["validationErrors"]] == ["resumeSubworkflowTasks"]
    response = retry(client, parent_id, resumeSubworkflowTasks="true")
    assert response.status_code == 409
    assert "RUNNING" in response.json()["message"]
    response = retry(client, child_id, resumeSubworkflowTasks="true")
    assert response.status_code == 409 and "RUNNING" in response.json()["message"]
    assert retry(client, "no-such-run", resumeSubworkflowTasks="true").status_code == 404
    assert run_of(client, parent_id) == before


# -- subWorkflowParam expressions ------------------------------------------------------------


def by_expression(workflow_name: str, **param: Any) -> dict[str, Any]:
    definition = parent_workflow(workflow_name)
    definition["tasks"][0]["subWorkflowParam"] = param
    return definition


def test_sub_workflow_name_and_priority_are_resolved_from_the_run(client: httpx.Client) -> None:
    picked_name, picked_work, chooser_name = unique("picked"), unique("picked_v2_work"), unique("chooser")
    register(client, child_workflow(picked_name))
    second = child_workflow(picked_name, worker=picked_work)
    second["version"] = 2
    register(client, second)
    register(
        client,
        by_expression(chooser_name, name="${workflow.input.childName}", priority="${workflow.input.childPriority}"),
    )
    parent_id = start(client, chooser_name, {"value": 3, "childName": picked_name, "childPriority": 7})
    child = run_of(client, wait_for_child(client, parent_id)["subWorkflowId"])
    # No version given: the latest.
    assert (child["workflowName"], child["workflowVersion"], child["priority"]) == (picked_name, 2, 7)
    work_one(client, picked_work)
    assert wait_for_status(client, parent_id, "COMPLETED")["output"] == {"fromChild": 6}

    # Digits in a string are a version too (Conductor's Jackson reads them as an Integer).
    first_chooser = unique("chooser_v1")
    register(client, by_expression(first_chooser, name="${workflow.input.childName}", version="1"))
    first_id = start(client, first_chooser, {"value": 1, "childName": picked_name})
    assert run_of(client, wait_for_child(client, first_id)["subWorkflowId"])["workflowVersion"] == 1


def test_a_name_that_resolves_to_nothing_usable_fails_the_task(client: httpx.Client) -> None:
    picked_name, chooser_name = unique("picked"), unique("chooser")
    register(client, child_workflow(picked_name))
    register(client, by_expression(chooser_name, name="${workflow.input.childName}"))

    unknown = wait_for_status(client, start(client, chooser_name, {"childName": "nobody"}), "FAILED")
    reason = only_task(unknown, "sub")["reasonForIncompletion"]
    assert "subWorkflowParam.name ${workflow.input.childName} resolved to 'nobody'" in reason
    assert "No such workflow found by name: nobody, version: null" in reason

    missing = wait_for_status(client, start(client, chooser_name, {}), "FAILED")
    assert "subWorkflowParam.name" in only_task(missing, "sub")["reasonForIncompletion"]
    assert "resolved to None" in only_task(missing, "sub")["reasonForIncompletion"]
    started = client.get("/api/workflow/search", params={"query": f"workflowType IN ({picked_name})"}).json()
    assert started["totalHits"] == 0


def test_sub_workflow_params_that_are_neither_numbers_nor_expressions_are_refused(client: httpx.Client) -> None:
    # A version must be a whole number, as in Conductor: not even an expression (its clients cannot read one back).
    for version in ("two", "${workflow.input.v}"):
        response = client.post("/api/metadata/workflow", json=by_expression("bad", name="child", version=version))
        assert response.status_code == 400
        assert [e["path"] for e in response.json()["validationErrors"]] == ["tasks[0].subWorkflowParam.version"]
    response = client.post("/api/metadata/workflow", json=by_expression("bad", name="child", priority=100))
    assert [e["path"] for e in response.json()["validationErrors"]] == ["tasks[0].subWorkflowParam.priority"]
    assert client.get("/api/metadata/workflow/bad").status_code == 404


# -- START_WORKFLOW's request ------------------------------------------------------------------


def test_start_workflow_takes_priority_and_an_inline_definition_and_the_starters_correlation_id(
    client: httpx.Client,
) -> None:
    inline = {
        "name": "made_up",
        "version": 1,
        "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}],
        "outputParameters": {"seen": "${workflow.input.value}"},
    }
    register(
        client,
        {
            "name": "launcher",
            "version": 1,
            "tasks": [
                {
                    "name": "kick_off",
                    "taskReferenceName": "kick",
                    "type": "START_WORKFLOW",
                    "inputParameters": {
                        "startWorkflow": {
                            "name": "made_up",
                            "workflowDef": inline,
                            "input": {"value": "${workflow.input.value}"},
                            "priority": 9,
                        }
                    },
                }
            ],
        },
    )
    launcher = wait_for_status(client, start(client, "launcher", {"value": 3}, correlationId="order-9"), "COMPLETED")
    started = wait_for_status(client, only_task(launcher, "kick")["outputData"]["workflowId"], "COMPLETED")
    assert (started["workflowName"], started["priority"], started["correlationId"]) == ("made_up", 9, "order-9")
    assert started["output"] == {"seen": 3}
    assert client.get("/api/metadata/workflow/made_up").status_code == 404
