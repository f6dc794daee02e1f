"""A run in Elsa's shapes: its ``WorkflowState``, the instance model and the list's summary.

The mapping (``docs/design.md``, "Elsa's API"): the instance id is the run id; ``definitionId``
the workflow's name, ``definitionVersion`` its version, ``definitionVersionId``
``<name>:<version>``. Status ``Running`` while RUNNING or PAUSED, else ``Finished``; the
sub-status ``Suspended`` when paused or waiting on the world (``is_suspended``: a worker, a timer,
a person, an event, an HTTP request), ``Executing`` otherwise, ``Finished`` (COMPLETED),
``Cancelled`` (TERMINATED), ``Faulted`` (FAILED, TIMED_OUT). Bookmarks are the pending steps the
run waits on, incidents its failed task attempts. Times are ISO-8601 in UTC; a field with no
value is left out, as Elsa's serialiser leaves out nulls.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from baton.model import Task, TaskStatus, Workflow, WorkflowStatus
from baton.service.runs import is_suspended, waits_outside

RUNNING = "Running"
FINISHED = "Finished"
SUB_STATUSES = ("Pending", "Executing", "Suspended", "Finished", "Cancelled", "Faulted")
_ENDED_SUB_STATUS = {
    WorkflowStatus.COMPLETED: "Finished",
    WorkflowStatus.TERMINATED: "Cancelled",
    WorkflowStatus.FAILED: "Faulted",
    WorkflowStatus.TIMED_OUT: "Faulted",
}
_FAULTED = (WorkflowStatus.FAILED, WorkflowStatus.TIMED_OUT)
INCIDENT_STATUSES = frozenset({TaskStatus.FAILED, TaskStatus.FAILED_WITH_TERMINAL_ERROR, TaskStatus.TIMED_OUT})


def iso(millis: int) -> str | None:
    if millis <= 0:
        return None
    return datetime.fromtimestamp(millis / 1000, tz=UTC).isoformat(timespec="milliseconds")


def status_of(run: Workflow) -> str:
    return FINISHED if run.status.is_terminal else RUNNING


def sub_status_of(run: Workflow) -> str:
    """The run's sub-status; ``run.tasks`` must hold at least its pending tasks."""
    ended = _ENDED_SUB_STATUS.get(run.status)
    if ended is not None:
        return ended
    return "Suspended" if is_suspended(run) else "Executing"


def definition_version_id(run: Workflow) -> str:
    return f"{run.workflow_name}:{run.workflow_version}"


def _bookmark(task: Task) -> dict[str, Any]:
    return _without_nulls(
        {
            "id": task.task_id,
            "name": task.task_type,
            "payload": task.input_data,
            "activityId": task.reference_task_name,
            "activityNodeId": task.reference_task_name,
            "activityInstanceId": task.task_id,
            "createdAt": iso(task.scheduled_time),
        }
    )


def _incident(task: Task) -> dict[str, Any]:
    return _without_nulls(
        {
            "activityId": task.reference_task_name,
            "activityNodeId": task.reference_task_name,
            "activityInstanceId": task.task_id,
            "activityType": task.task_type,
            "message": task.reason_for_incompletion or task.status.value,
            "timestamp": iso(task.end_time or task.update_time),
        }
    )


def incident_count(run: Workflow, failed_attempts: int) -> int:
    """How many incidents ``incidents`` lists for a run with that many failed task attempts."""
    if failed_attempts == 0 and run.status in _FAULTED:
        return 1
    return failed_attempts


def incidents(run: Workflow) -> list[dict[str, Any]]:
    found = [_incident(task) for task in run.tasks if task.status in INCIDENT_STATUSES]
    if not found and run.status in _FAULTED:
        found.append(
            _without_nulls(
                {
                    "activityId": run.workflow_name,
                    "activityType": "Workflow",
                    "message": run.reason_for_incompletion or run.status.value,
                    "timestamp": iso(run.end_time or run.update_time),
                }
            )
        )
    return found


def workflow_state(run: Workflow) -> dict[str, Any]:
    """Elsa's ``WorkflowState`` of a run read with its tasks."""
    return _without_nulls(
        {
            "id": run.workflow_id,
            "definitionId": run.workflow_name,
            "definitionVersionId": definition_version_id(run),
            "definitionVersion": run.workflow_version,
            "parentWorkflowInstanceId": run.parent_workflow_id,
            "correlationId": run.correlation_id,
            "name": run.workflow_name,
            "status": status_of(run),
            "subStatus": sub_status_of(run),
            "isExecuting": False,
            "isSystem": False,
            "bookmarks": [_bookmark(task) for task in run.tasks if waits_outside(task)],
            "incidents": incidents(run),
            "completionCallbacks": [],
            "activityExecutionContexts": [],
            "scheduledActivities": [],
            "executionLogSequence": len(run.tasks),
            "input": run.input,
            "output": run.output,
            "properties": {"variables": run.variables},
            "createdAt": iso(run.create_time),
            "updatedAt": iso(run.update_time or run.create_time),
            "finishedAt": iso(run.end_time) if run.status.is_terminal else None,
        }
    )


def summary(run: Workflow, incident_count: int) -> dict[str, Any]:
    """Elsa's ``WorkflowInstanceSummary``; ``run.tasks`` must hold at least its pending tasks."""
    return _without_nulls(
        {
            "id": run.workflow_id,
            "definitionId": run.workflow_name,
            "definitionVersionId": definition_version_id(run),
            "version": run.workflow_version,
            "status": status_of(run),
            "subStatus": sub_status_of(run),
            "correlationId": run.correlation_id,
            "name": run.workflow_name,
            "incidentCount": incident_count,
            "createdAt": iso(run.create_time),
            "updatedAt": iso(run.update_time or run.create_time),
            "finishedAt": iso(run.end_time) if run.status.is_terminal else None,
        }
    )


def instance(run: Workflow) -> dict[str, Any]:
    """Elsa's ``WorkflowInstanceModel`` of a run read with its tasks."""
    state = workflow_state(run)
    return _without_nulls(
        {
            **summary(run, len(state["incidents"])),
            "parentWorkflowInstanceId": run.parent_workflow_id,
            "workflowState": state,
            "isExecuting": False,
            "isSystem": False,
        }
    )


def _without_nulls(value: dict[str, Any]) -> dict[str, Any]:
    return {key: item for key, item in value.items() if item is not None}
