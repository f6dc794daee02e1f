"""Runs, tasks and decisions built by hand, so the store tests need no decider."""

from __future__ import annotations

from collections.abc import Iterable

from baton.engine.decision import Decision
from baton.model import (
    IdempotencyStrategy,
    Task,
    TaskStatus,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
    WorkflowTask,
)
from baton.store import StartResult, Store


def make_def(name: str = "flow", version: int = 1, *, description: str | None = None) -> WorkflowDef:
    return WorkflowDef(
        name=name,
        version=version,
        description=description,
        tasks=[
            WorkflowTask(name="work", task_reference_name="work_ref", input_parameters={"x": "${workflow.input.x}"})
        ],
    )


def make_run(
    workflow_id: str = "wf-1",
    *,
    name: str = "flow",
    version: int = 1,
    priority: int = 0,
    correlation_id: str | None = None,
    idempotency_key: str | None = None,
    status: WorkflowStatus = WorkflowStatus.RUNNING,
    create_time: int = 1_000,
) -> Workflow:
    return Workflow(
        workflow_id=workflow_id,
        workflow_name=name,
        workflow_version=version,
        status=status,
        priority=priority,
        correlation_id=correlation_id,
        idempotency_key=idempotency_key,
        input={"x": 1, "text": "zürich \u0000 nul"},
        create_time=create_time,
        start_time=create_time,
        update_time=create_time,
    )


def make_task(
    run: Workflow,
    task_id: str,
    *,
    seq: int = 1,
    task_type: str = "work",
    status: TaskStatus = TaskStatus.SCHEDULED,
    visible_at: int = 0,
    response_timeout_seconds: int = 60,
) -> Task:
    return Task(
        task_id=task_id,
        task_type=task_type,
        task_def_name=task_type,
        reference_task_name=f"{task_id}_ref",
        workflow_instance_id=run.workflow_id,
        workflow_type=run.workflow_name,
        status=status,
        seq=seq,
        input_data={"x": seq},
        workflow_priority=run.priority,
        scheduled_time=run.create_time,
        visible_at=visible_at,
        response_timeout_seconds=response_timeout_seconds,
    )


async def start(
    store: Store,
    run: Workflow,
    tasks: Iterable[Task] = (),
    *,
    definition: WorkflowDef | None = None,
    strategy: IdempotencyStrategy | None = None,
) -> StartResult:
    definition = definition or make_def(run.workflow_name, run.workflow_version)
    decision = Decision(workflow=run, created=list(tasks))
    return await store.create_run(decision, definition, idempotency_strategy=strategy)
