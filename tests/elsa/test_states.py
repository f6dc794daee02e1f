"""How a run reads in Elsa's shapes (``api/elsa/states.py``): statuses, sub-statuses, bookmarks and incidents."""

from __future__ import annotations

import pytest

from baton.api.elsa.states import incident_count, instance, status_of, sub_status_of, workflow_state
from baton.model import Task, TaskStatus, Workflow, WorkflowStatus


def _task(task_type: str, status: TaskStatus, ref: str = "step") -> Task:
    return Task(
        task_id=f"t-{ref}",
        task_type=task_type,
        reference_task_name=ref,
        workflow_instance_id="run-1",
        workflow_type="flow",
        status=status,
        scheduled_time=1_700_000_000_000,
        end_time=1_700_000_000_500 if status.is_terminal else 0,
        reason_for_incompletion="boom" if status is TaskStatus.FAILED else None,
    )


def _run(status: WorkflowStatus, *tasks: Task) -> Workflow:
    return Workflow(
        workflow_id="run-1",
        workflow_name="flow",
        workflow_version=3,
        status=status,
        create_time=1_700_000_000_000,
        end_time=1_700_000_001_000 if status.is_terminal else 0,
        reason_for_incompletion="took too long" if status is WorkflowStatus.TIMED_OUT else None,
        tasks=list(tasks),
    )


@pytest.mark.parametrize(
    ("status", "tasks", "expected"),
    [
        (WorkflowStatus.RUNNING, [_task("HTTP", TaskStatus.SCHEDULED)], ("Running", "Executing")),
        (WorkflowStatus.RUNNING, [_task("HTTP_RESPONSE", TaskStatus.SCHEDULED)], ("Running", "Executing")),
        (WorkflowStatus.RUNNING, [_task("SUB_WORKFLOW", TaskStatus.IN_PROGRESS)], ("Running", "Executing")),
        (WorkflowStatus.RUNNING, [_task("charge", TaskStatus.SCHEDULED)], ("Running", "Suspended")),
        (WorkflowStatus.RUNNING, [_task("WAIT", TaskStatus.IN_PROGRESS)], ("Running", "Suspended")),
        (WorkflowStatus.RUNNING, [_task("HUMAN", TaskStatus.IN_PROGRESS)], ("Running", "Suspended")),
        (WorkflowStatus.RUNNING, [_task("HTTP_ENDPOINT", TaskStatus.IN_PROGRESS)], ("Running", "Suspended")),
        (WorkflowStatus.RUNNING, [_task("charge", TaskStatus.COMPLETED)], ("Running", "Executing")),
        (WorkflowStatus.PAUSED, [], ("Running", "Suspended")),
        (WorkflowStatus.COMPLETED, [], ("Finished", "Finished")),
        (WorkflowStatus.TERMINATED, [_task("HUMAN", TaskStatus.CANCELED)], ("Finished", "Cancelled")),
        (WorkflowStatus.FAILED, [], ("Finished", "Faulted")),
        (WorkflowStatus.TIMED_OUT, [], ("Finished", "Faulted")),
    ],
)
def test_statuses(status: WorkflowStatus, tasks: list[Task], expected: tuple[str, str]) -> None:
    run = _run(status, *tasks)
    assert (status_of(run), sub_status_of(run)) == expected


def test_bookmarks_are_the_steps_waiting_outside_and_incidents_the_failed_attempts() -> None:
    run = _run(
        WorkflowStatus.RUNNING,
        _task("charge", TaskStatus.FAILED, "charge"),
        _task("charge", TaskStatus.SCHEDULED, "charge"),
        _task("HTTP", TaskStatus.SCHEDULED, "notify"),
    )
    state = workflow_state(run)
    assert [(b["name"], b["activityId"], b["createdAt"]) for b in state["bookmarks"]] == [
        ("charge", "charge", "2023-11-14T22:13:20.000+00:00")
    ]
    assert state["incidents"] == [
        {
            "activityId": "charge",
            "activityNodeId": "charge",
            "activityInstanceId": "t-charge",
            "activityType": "charge",
            "message": "boom",
            "timestamp": "2023-11-14T22:13:20.500+00:00",
        }
    ]
    assert "finishedAt" not in state and "correlationId" not in state
    assert state["definitionVersionId"] == "flow:3"


def test_a_run_faulted_without_a_failed_step_has_one_incident_with_its_reason() -> None:
    run = _run(WorkflowStatus.TIMED_OUT)
    [incident] = workflow_state(run)["incidents"]
    assert (incident["activityType"], incident["message"]) == ("Workflow", "took too long")
    assert incident_count(run, 0) == 1 == instance(run)["incidentCount"]
    assert instance(run)["finishedAt"] == "2023-11-14T22:13:21.000+00:00"
