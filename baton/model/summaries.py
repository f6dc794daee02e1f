"""Conductor's ``WorkflowSummary`` and ``TaskSummary``: what a search returns for each hit.

As in Conductor, the times are ISO-8601 strings in UTC with milliseconds
(``2024-05-01T10:00:00.000Z``) and absent when not reached (an end time of a run
still running), ``input``/``output`` are the JSON text of the maps,
``failedReferenceTaskNames`` is one comma-separated string, and
``executionTime`` is end minus start once ended (else 0).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from baton.model.runs import Task, TaskStatus, Workflow, WorkflowStatus

_json = msgspec.json.Encoder(order="deterministic")


def iso_time(millis: int) -> str | None:
    """Epoch milliseconds as Conductor's summary time text; None for 0 (not reached)."""
    if millis <= 0:
        return None
    moment = datetime.fromtimestamp(millis / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis % 1000:03d}Z"


def _json_text(value: dict[str, Any]) -> str:
    return _json.encode(value).decode()


class WorkflowSummary(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """Fields that are None are left out, as Conductor's JSON leaves out nulls."""

    workflow_type: str
    version: int
    workflow_id: str
    status: WorkflowStatus
    correlation_id: str | None = None
    start_time: str | None = None
    update_time: str | None = None
    end_time: str | None = None
    input: str | None = None
    output: str | None = None
    reason_for_incompletion: str | None = None
    execution_time: int
    failed_reference_task_names: str
    failed_task_names: list[str]
    priority: int
    input_size: int
    output_size: int


class TaskSummary(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """Fields that are None are left out."""

    task_id: str
    task_type: str
    task_def_name: str
    reference_task_name: str
    workflow_id: str
    workflow_type: str
    status: TaskStatus
    correlation_id: str | None = None
    scheduled_time: str | None = None
    start_time: str | None = None
    update_time: str | None = None
    end_time: str | None = None
    reason_for_incompletion: str | None = None
    execution_time: int
    queue_wait_time: int
    input: str | None = None
    output: str | None = None
    workflow_priority: int


def workflow_summary(run: Workflow) -> WorkflowSummary:
    started = run.start_time or run.create_time
    input_text = _json_text(run.input)
    output_text = _json_text(run.output)
    return WorkflowSummary(
        workflow_type=run.workflow_name,
        version=run.workflow_version,
        workflow_id=run.workflow_id,
        status=run.status,
        correlation_id=run.correlation_id,
        start_time=iso_time(run.create_time),
        update_time=iso_time(run.update_time),
        end_time=iso_time(run.end_time),
        input=input_text,
        output=output_text,
        reason_for_incompletion=run.reason_for_incompletion,
        execution_time=run.end_time - started if run.end_time > 0 else 0,
        failed_reference_task_names=",".join(run.failed_reference_task_names),
        failed_task_names=list(run.failed_task_names),
        priority=run.priority,
        input_size=len(input_text),
        output_size=len(output_text),
    )


def task_summary(task: Task) -> TaskSummary:
    return TaskSummary(
        task_id=task.task_id,
        task_type=task.task_type,
        task_def_name=task.task_def_name or task.task_type,
        reference_task_name=task.reference_task_name,
        workflow_id=task.workflow_instance_id,
        workflow_type=task.workflow_type,
        status=task.status,
        correlation_id=task.correlation_id,
        scheduled_time=iso_time(task.scheduled_time),
        start_time=iso_time(task.start_time),
        update_time=iso_time(task.update_time),
        end_time=iso_time(task.end_time),
        reason_for_incompletion=task.reason_for_incompletion,
        execution_time=task.end_time - task.start_time if task.end_time > 0 and task.start_time > 0 else 0,
        queue_wait_time=task.start_time - task.scheduled_time if task.start_time > 0 and task.scheduled_time > 0 else 0,
        input=_json_text(task.input_data),
        output=_json_text(task.output_data),
        workflow_priority=task.workflow_priority,
    )
