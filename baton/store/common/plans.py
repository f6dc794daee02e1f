"""What a decision or a start writes, as rows per statement: the queue and timer rules, once for both stores.

Rows are passed to the drivers as positional tuples whose order is given by the
``*_COLUMNS`` constants below; the SQL of both dialects lists its columns in
that order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import msgspec

from baton.engine import timeouts
from baton.engine.decision import Decision, Signal
from baton.errors import StoreError
from baton.model import (
    Task,
    TaskDef,
    TaskStatus,
    Workflow,
    WorkflowDef,
)
from baton.store.common.codec import encode, encode_log_line, encode_run_header, snapshot_of

# -- the queue and timer rules -----------------------------------------------------


def queue_visible_at(task: Task) -> int | None:
    """When the task may be handed out, if it belongs in the queue: a SCHEDULED queued task
    (a worker task, or a system task the server's executors run)."""
    if task.status is TaskStatus.SCHEDULED and task.is_queued_task:
        return task.visible_at
    return None


def timer_at(task: Task) -> int | None:
    """When the sweeper must look at the task: a lease expiry, a wake-up or a timeout (``engine.timeouts``)."""
    return timeouts.task_timer_at(task)


def run_timer_at(run: Workflow, definition: WorkflowDef) -> int | None:
    """When the sweeper must look at the run itself: its WorkflowDef ``timeoutSeconds``."""
    return timeouts.run_timer_at(run, definition)


def claimed(task: Task, *, worker_id: str | None, now: int) -> Task:
    """The task as a worker's claim leaves it. ``startTime`` is the first poll's: later polls keep it."""
    lease = now + task.response_timeout_seconds * 1000 if task.response_timeout_seconds > 0 else 0
    return msgspec.structs.replace(
        task,
        status=TaskStatus.IN_PROGRESS,
        worker_id=worker_id,
        poll_count=task.poll_count + 1,
        start_time=task.start_time if task.poll_count > 0 else now,
        update_time=now,
        lease_expires_at=lease,
    )


# -- rows --------------------------------------------------------------------------

RUN_INSERT_COLUMNS = (
    "workflow_id",
    "name",
    "version",
    "status",
    "correlation_id",
    "priority",
    "create_time",
    "update_time",
    "end_time",
    "snapshot_hash",
    "body",
    "timer_at",
)
RUN_UPDATE_COLUMNS = (
    "status",
    "correlation_id",
    "priority",
    "update_time",
    "end_time",
    "body",
    "workflow_id",
    "timer_at",
)
"""SET all but ``workflow_id`` WHERE ``workflow_id``."""
TASK_INSERT_COLUMNS = ("task_id", "workflow_id", "seq", "ref", "task_type", "status", "timer_at", "body")
TASK_UPDATE_COLUMNS = ("status", "timer_at", "body", "task_id", "workflow_id", "expected_status")
"""SET the first three WHERE ``task_id``, ``workflow_id`` and ``status = expected_status``.

The guard matters on PostgreSQL, where a claim (SCHEDULED -> IN_PROGRESS) is
the one change made to a task outside its run's lock: a decision that loaded
the task before the claim must not overwrite it.
"""
CLAIM_UPDATE_COLUMNS = ("timer_at", "body", "task_id")
"""SET status IN_PROGRESS and these two WHERE ``task_id`` and status SCHEDULED."""
QUEUE_UPSERT_COLUMNS = ("task_id", "task_type", "priority", "visible_at")
QUEUE_CLAIM_FIELD_COLUMNS = ("response_timeout_seconds", "poll_count")
"""What a claim reads of a queued task, beside its queue row (PostgreSQL keeps them in the row, so its claim
parses no body)."""
OUTBOX_INSERT_COLUMNS = ("signal_id", "created_at", "body")

Row: TypeAlias = tuple[Any, ...]


def workflow_def_row(definition: WorkflowDef) -> Row:
    """``(name, version, create_time, body)``."""
    return (definition.name, definition.version, definition.create_time, encode(definition))


def task_def_row(definition: TaskDef) -> Row:
    """``(name, body)``."""
    return (definition.name, encode(definition))


def run_insert_row(run: Workflow, snapshot_hash: str, definition: WorkflowDef) -> Row:
    """In ``RUN_INSERT_COLUMNS`` order."""
    return (
        run.workflow_id,
        run.workflow_name,
        run.workflow_version,
        run.status.value,
        run.correlation_id,
        run.priority,
        run.create_time,
        run.update_time,
        run.end_time,
        snapshot_hash,
        encode_run_header(run),
        run_timer_at(run, definition),
    )


def run_update_row(run: Workflow, definition: WorkflowDef) -> Row:
    """In ``RUN_UPDATE_COLUMNS`` order."""
    return (
        run.status.value,
        run.correlation_id,
        run.priority,
        run.update_time,
        run.end_time,
        encode_run_header(run),
        run.workflow_id,
        run_timer_at(run, definition),
    )


def task_insert_row(task: Task, workflow_id: str) -> Row:
    """In ``TASK_INSERT_COLUMNS`` order."""
    return (
        task.task_id,
        workflow_id,
        task.seq,
        task.reference_task_name,
        task.task_type,
        task.status.value,
        timer_at(task),
        encode(task),
    )


def claim_update_row(task: Task) -> Row:
    """In ``CLAIM_UPDATE_COLUMNS`` order, for a task as ``claimed`` left it."""
    return (timer_at(task), encode(task), task.task_id)


# -- decisions -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SnapshotChange:
    """A run moves to another definition: store the snapshot, point the run (and its version column) at it."""

    digest: str
    body: str
    version: int


@dataclass(kw_only=True)
class WritePlan:
    """The task and queue rows one decision writes, as rows for each statement."""

    task_inserts: list[Row] = field(default_factory=list)
    """``TASK_INSERT_COLUMNS``"""
    task_updates: list[Row] = field(default_factory=list)
    """``TASK_UPDATE_COLUMNS``"""
    queue_upserts: list[Row] = field(default_factory=list)
    """``QUEUE_UPSERT_COLUMNS``: insert, or move a task already queued."""
    queue_claim_fields: list[Row] = field(default_factory=list)
    """``QUEUE_CLAIM_FIELD_COLUMNS`` of each of ``queue_upserts``, in the same order."""
    queue_deletes: list[Row] = field(default_factory=list)
    """``(task_id,)`` of tasks that leave the queue."""
    task_deletes: list[str] = field(default_factory=list)
    """Ids of the run's tasks to delete (with their queue rows and logs), before the inserts."""
    snapshot: SnapshotChange | None = None
    """The run's new definition snapshot, when the decision replaces its definition."""
    log_inserts: list[Row] = field(default_factory=list)
    """``(task_id, created_time, log)`` of the log lines to append, after the task rows are written."""
    outbox_inserts: list[Row] = field(default_factory=list)
    """``OUTBOX_INSERT_COLUMNS``: the decision's signals."""


def plan_new_run(decision: Decision) -> WritePlan:
    """The task, queue and log rows of a new run (the run row itself needs its snapshot hash)."""
    run = decision.workflow
    if decision.updated:
        raise StoreError("The first decision of a run can only create tasks, not update them")
    plan = WritePlan()
    _plan_created(plan, decision.created, run)
    _plan_logs(plan, decision, workflow_id=run.workflow_id, loaded={})
    _plan_signals(plan, decision.signals)
    return plan


def plan_decision(decision: Decision, *, workflow_id: str, loaded: Mapping[str, Task]) -> WritePlan:
    """The task and queue rows a decision on run ``workflow_id`` writes; ``loaded`` is its tasks as loaded.

    Each task update is guarded by the status the task was loaded with (see
    ``TASK_UPDATE_COLUMNS``); the caller checks that every guarded update found
    its row, and rolls back when one did not.
    """
    run = decision.workflow
    if run.workflow_id != workflow_id:
        raise StoreError(f"A decision on run {workflow_id} returned run {run.workflow_id}")
    plan = WritePlan()
    _plan_removed(plan, decision, workflow_id=workflow_id, loaded=loaded)
    _plan_created(plan, decision.created, run)
    _plan_logs(plan, decision, workflow_id=workflow_id, loaded=loaded)
    _plan_updated(plan, decision.updated, run, loaded)
    _plan_signals(plan, decision.signals)
    return plan


LARGE_DECISION_TASKS = 2000
"""A decision that writes more tasks than this is planned (and, on SQLite, written) ``TURN_TASKS`` at a time."""
TURN_TASKS = 250
"""Tasks encoded (and, on SQLite, written) between two turns of the event loop. A /health request needs three or
four turns to be answered, so it waits about that many slices: at 1,000 tasks a slice (20-40 ms on SQLite here,
more under load) a 20,000-task fork held /health 100-340 ms; at 250, a quarter of that."""


def is_large(decision: Decision) -> bool:
    return len(decision.created) + len(decision.updated) + len(decision.removed) > LARGE_DECISION_TASKS


async def plan_decision_in_turns(decision: Decision, *, workflow_id: str, loaded: Mapping[str, Task]) -> WritePlan:
    """``plan_decision`` for a large decision: the event loop gets a turn after every ``TURN_TASKS`` tasks encoded.

    The caller keeps the run from changing meanwhile (its lock, or its turn).
    """
    run = decision.workflow
    if run.workflow_id != workflow_id:
        raise StoreError(f"A decision on run {workflow_id} returned run {run.workflow_id}")
    plan = WritePlan()
    _plan_removed(plan, decision, workflow_id=workflow_id, loaded=loaded)
    for index in range(0, len(decision.created), TURN_TASKS):
        _plan_created(plan, decision.created[index : index + TURN_TASKS], run)
        await asyncio.sleep(0)
    _plan_logs(plan, decision, workflow_id=workflow_id, loaded=loaded)
    for index in range(0, len(decision.updated), TURN_TASKS):
        _plan_updated(plan, decision.updated[index : index + TURN_TASKS], run, loaded)
        await asyncio.sleep(0)
    _plan_signals(plan, decision.signals)
    return plan


async def plan_new_run_in_turns(decision: Decision) -> WritePlan:
    """``plan_new_run`` for a large decision: the event loop gets a turn after every ``TURN_TASKS`` tasks encoded."""
    plan = plan_new_run(Decision(workflow=decision.workflow))
    for index in range(0, len(decision.created), TURN_TASKS):
        _plan_created(plan, decision.created[index : index + TURN_TASKS], decision.workflow)
        await asyncio.sleep(0)
    _plan_signals(plan, decision.signals)
    return plan


def _plan_updated(plan: WritePlan, updated: Sequence[Task], run: Workflow, loaded: Mapping[str, Task]) -> None:
    workflow_id = run.workflow_id
    for task in updated:
        before = loaded.get(task.task_id)
        if before is None:
            raise StoreError(f"Decision updates task {task.task_id}, which is not a task of run {workflow_id}")
        plan.task_updates.append(
            (task.status.value, timer_at(task), encode(task), task.task_id, workflow_id, before.status.value)
        )
        visible_at = queue_visible_at(task)
        if visible_at is not None:
            _plan_queued(plan, task, run, visible_at)
        elif queue_visible_at(before) is not None:
            plan.queue_deletes.append((task.task_id,))


def _plan_removed(plan: WritePlan, decision: Decision, *, workflow_id: str, loaded: Mapping[str, Task]) -> None:
    if decision.removed:
        updated = {task.task_id for task in decision.updated}
        for task_id in decision.removed:
            if task_id not in loaded:
                raise StoreError(f"Decision removes task {task_id}, which is not a task of run {workflow_id}")
            if task_id in updated:
                raise StoreError(f"Decision both updates and removes task {task_id}")
        plan.task_deletes = list(decision.removed)
    if decision.definition is not None:
        digest, body = snapshot_of(decision.definition)
        plan.snapshot = SnapshotChange(digest=digest, body=body, version=decision.definition.version)


def _plan_logs(plan: WritePlan, decision: Decision, *, workflow_id: str, loaded: Mapping[str, Task]) -> None:
    if not decision.logs:
        return
    kept = (set(loaded) - set(decision.removed)) | {task.task_id for task in decision.created}
    for log in decision.logs:
        if log.task_id not in kept:
            raise StoreError(f"Decision logs to task {log.task_id}, which is not a task of run {workflow_id}")
        plan.log_inserts.append((log.task_id, log.created_time, encode_log_line(log.log)))


def columns(rows: Sequence[Row], width: int) -> list[list[Any]]:
    """Rows turned into ``width`` column lists: the arrays a batched ``unnest`` statement takes."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]


def _plan_signals(plan: WritePlan, signals: Sequence[Signal]) -> None:
    plan.outbox_inserts.extend((signal.signal_id, signal.created_at, encode(signal)) for signal in signals)


def _plan_created(plan: WritePlan, created: Sequence[Task], run: Workflow) -> None:
    for task in created:
        plan.task_inserts.append(task_insert_row(task, run.workflow_id))
        visible_at = queue_visible_at(task)
        if visible_at is not None:
            _plan_queued(plan, task, run, visible_at)


def _plan_queued(plan: WritePlan, task: Task, run: Workflow, visible_at: int) -> None:
    plan.queue_upserts.append((task.task_id, task.task_type, run.priority, visible_at))
    plan.queue_claim_fields.append((task.response_timeout_seconds, task.poll_count))


def written_sizes(plan: WritePlan) -> dict[str, int]:
    """The encoded body length of each task a plan inserts or updates, by id."""
    sizes = {row[0]: len(row[7]) for row in plan.task_inserts}
    sizes.update((row[3], len(row[2])) for row in plan.task_updates)
    return sizes
