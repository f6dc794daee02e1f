"""What both stores share: row <-> struct mapping, the queue and timer rules, snapshots, migrations.

The dialect modules (``sqlite.py``, ``postgres.py``) hold only SQL text and the
way each database is driven; every rule about *what* is written lives here, once.

Rows are passed to the drivers as positional tuples whose order is given by the
``*_COLUMNS`` constants below; the SQL of both dialects lists its columns in
that order.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from importlib import resources
from typing import Any, TypeAlias

import msgspec

from baton.engine import timeouts
from baton.engine.decision import Decision, Signal
from baton.errors import StoreError
from baton.model import (
    IdempotencyStrategy,
    Task,
    TaskDef,
    TaskExecLog,
    TaskStatus,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
)

# -- codecs ------------------------------------------------------------------------

_encoder = msgspec.json.Encoder()
# Snapshots are hashed, so their JSON must not depend on the order keys were given in.
_canonical_encoder = msgspec.json.Encoder(order="sorted")
_workflow_def_decoder = msgspec.json.Decoder(WorkflowDef)
_task_def_decoder = msgspec.json.Decoder(TaskDef)
_workflow_decoder = msgspec.json.Decoder(Workflow)
_task_decoder = msgspec.json.Decoder(Task)
_signal_decoder = msgspec.json.Decoder(Signal)

Body: TypeAlias = str | bytes
"""A ``body`` column as a driver hands it back."""


def encode(value: Any) -> str:
    """The ``body`` column text of a struct."""
    return _encoder.encode(value).decode()


def decode_workflow_def(body: Body) -> WorkflowDef:
    return _workflow_def_decoder.decode(body)


def decode_task_def(body: Body) -> TaskDef:
    return _task_def_decoder.decode(body)


def decode_task(body: Body) -> Task:
    return _task_decoder.decode(body)


def decode_signal(body: Body) -> Signal:
    return _signal_decoder.decode(body)


def decode_run(body: Body, task_bodies: Iterable[Body] = ()) -> Workflow:
    """A run from its header body and its task bodies (already ordered by ``seq``)."""
    run = _workflow_decoder.decode(body)
    run.tasks = [_task_decoder.decode(b) for b in task_bodies]
    return run


class TaskCache:
    """Decoded tasks by id, each with the row version it was decoded at; bounded by bytes (oldest out).

    A decision on a run of thousands of tasks changes one or two of them, yet it
    reads them all: decoding each again is what made a step cost more the longer
    the run. Each write to a task row bumps its ``row_version``, so a decision
    reads only ``(task_id, row_version)`` for every task, and bodies only for
    the rows whose version is not the one cached. The versions are read in the
    decision's own transaction, so another process's writes are never missed.
    The structs are shared between decisions: nothing may mutate them, which
    the decider never does. Each entry counts its encoded body's length; past
    ``max_bytes`` the oldest entries go until a quarter of the budget is free.
    """

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self._max_bytes = max_bytes
        self._entries: dict[tuple[str, int], tuple[Task, int]] = {}
        """By ``(task_id, row_version)``: the task and its body's length."""
        self._version_of: dict[str, int] = {}
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def run(
        self, body: Body, versions: Sequence[tuple[str, int]], load: Callable[[list[str]], RowsOfBodies]
    ) -> tuple[Workflow, dict[str, int]]:
        """The run from its header body and its tasks' ``(task_id, row_version)`` rows (in ``seq`` order), and
        the body length of each of its tasks.

        ``load`` fetches ``(task_id, row_version, body)`` for the ids whose version is not cached.
        """
        run = _workflow_decoder.decode(body)
        entries = self._entries
        found = [entries.get(key) for key in versions]
        sizes: dict[str, int] = {}
        fresh: dict[str, tuple[Task, int]] = {}
        if None in found:
            holes = [versions[index][0] for index, entry in enumerate(found) if entry is None]
            for task_id, version, task_body in load(holes):
                task = _task_decoder.decode(task_body)
                fresh[task_id] = (task, len(task_body))
                self._put(task_id, version, task, len(task_body))
        tasks: list[Task] = []
        for (task_id, _), entry in zip(versions, found, strict=True):
            task, size = entry if entry is not None else fresh[task_id]
            tasks.append(task)
            sizes[task_id] = size
        run.tasks = tasks
        return run, sizes

    def remember(self, plan: WritePlan, decision: Decision) -> None:
        """After a decision is written: its new tasks at version 0, its changed ones one version on."""
        version_of = self._version_of
        by_id = {task.task_id: task for task in (*decision.created, *decision.updated)}
        for row in plan.task_inserts:
            self._put(row[0], 0, by_id[row[0]], len(row[7]))
        for row in plan.task_updates:
            task_id = row[3]
            before = version_of.get(task_id)
            if before is not None:
                self._put(task_id, before + 1, by_id[task_id], len(row[2]))
        self.forget(plan.task_deletes)

    def forget(self, task_ids: Iterable[str]) -> None:
        """Drop these tasks (their rows are deleted)."""
        version_of, entries = self._version_of, self._entries
        for task_id in task_ids:
            old = version_of.pop(task_id, None)
            if old is not None:
                entry = entries.pop((task_id, old), None)
                if entry is not None:
                    self._bytes -= entry[1]

    def clear(self) -> None:
        """Forget every task: some entries may hold writes that were rolled back."""
        self._entries.clear()
        self._version_of.clear()
        self._bytes = 0

    def claimed(self, task: Task, version: int, size: int) -> None:
        """A task as a claim left it, at the row version it wrote (``size``: its body's length, near enough)."""
        self._put(task.task_id, version, task, size)

    def _put(self, task_id: str, version: int, task: Task, size: int) -> None:
        entries, version_of = self._entries, self._version_of
        old = version_of.get(task_id)
        if old is not None:
            entry = entries.pop((task_id, old), None)
            if entry is not None:
                self._bytes -= entry[1]
        entries[(task_id, version)] = (task, size)
        version_of[task_id] = version
        self._bytes += size
        if self._bytes > self._max_bytes:
            keep = self._max_bytes * 3 // 4
            while self._bytes > keep and entries:
                key = next(iter(entries))
                _, dropped = entries.pop(key)
                self._bytes -= dropped
                if version_of.get(key[0]) == key[1]:
                    del version_of[key[0]]


RowsOfBodies: TypeAlias = Iterable[tuple[str, int, Body]]


class BodyCache:
    """Decoded tasks by their exact body text; bounded by the bodies' length (oldest out).

    For a store that reads every body of a run anyway (PostgreSQL's one-statement
    lock-and-read): an unchanged body is looked up, not decoded again. Keyed by
    content, so it can never hand back a stale task, and a removed run's bodies
    simply age out. The structs are shared between decisions: nothing may mutate them.
    """

    def __init__(self, max_bytes: int = 64 << 20) -> None:
        self._max_bytes = max_bytes
        self._entries: dict[Body, Task] = {}
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        return self._bytes

    def run(self, body: Body, task_bodies: Iterable[Body]) -> tuple[Workflow, dict[str, int]]:
        """``decode_run``, through the cache, and each task's body length by id."""
        run = _workflow_decoder.decode(body)
        entries = self._entries
        tasks: list[Task] = []
        sizes: dict[str, int] = {}
        for task_body in task_bodies:
            task = entries.get(task_body)
            if task is None:
                task = entries[task_body] = _task_decoder.decode(task_body)
                self._bytes += len(task_body)
            tasks.append(task)
            sizes[task.task_id] = len(task_body)
        if self._bytes > self._max_bytes:
            keep = self._max_bytes * 3 // 4
            while self._bytes > keep and entries:
                key = next(iter(entries))
                del entries[key]
                self._bytes -= len(key)
        run.tasks = tasks
        return run, sizes


def written_sizes(plan: WritePlan) -> dict[str, int]:
    """The encoded body length of each task a plan inserts or updates, by id."""
    sizes = {row[0]: len(row[7]) for row in plan.task_inserts}
    sizes.update((row[3], len(row[2])) for row in plan.task_updates)
    return sizes


def encode_run_header(run: Workflow) -> str:
    """The run's body without its tasks: they live in their own rows."""
    if run.tasks:
        run = msgspec.structs.replace(run, tasks=[])
    return encode(run)


# -- definition snapshots ------------------------------------------------------------


def snapshot_of(definition: WorkflowDef) -> tuple[str, str]:
    """``(hash, body)`` of the exact definition a run executes: sha256 of its canonical JSON."""
    raw = _canonical_encoder.encode(definition)
    return hashlib.sha256(raw).hexdigest(), raw.decode()


class SnapshotCache:
    """Parsed snapshots by hash, and hashes known to be stored; bounded by count and by the snapshots' encoded
    length (least recently used out).

    Snapshots are immutable, so a cached one never goes stale. The parsed
    definitions are shared: callers must not mutate them. A definition given
    inline with a start can be large, so the count alone would not bound them.
    """

    def __init__(self, size: int = 512, max_bytes: int = 16 << 20) -> None:
        self._size = size
        self._max_bytes = max_bytes
        self._parsed: OrderedDict[str, tuple[WorkflowDef, int]] = OrderedDict()
        self._parsed_bytes = 0
        self._stored: OrderedDict[str, None] = OrderedDict()
        self._digests: OrderedDict[int, tuple[WorkflowDef, str, str]] = OrderedDict()
        self._digests_bytes = 0

    @property
    def nbytes(self) -> int:
        return self._parsed_bytes + self._digests_bytes

    def snapshot_of(self, definition: WorkflowDef) -> tuple[str, str]:
        """``snapshot_of(definition)``, remembered for the definitions seen lately.

        By identity: the resolver hands every start of a workflow the same resolved
        definition for a while, and shared definitions are never mutated. The entry
        holds the definition, so its id is not reused while it is there.
        """
        key = id(definition)
        found = self._digests.get(key)
        if found is not None and found[0] is definition:
            self._digests.move_to_end(key)
            return found[1], found[2]
        digest, body = snapshot_of(definition)
        if len(body) <= self._max_bytes // 4:
            if key in self._digests:
                self._digests_bytes -= len(self._digests.pop(key)[2])
            self._digests[key] = (definition, digest, body)
            self._digests_bytes += len(body)
            while len(self._digests) > 64 or self._digests_bytes > self._max_bytes // 4:
                self._digests_bytes -= len(self._digests.popitem(last=False)[1][2])
        return digest, body

    def get(self, digest: str) -> WorkflowDef | None:
        found = self._parsed.get(digest)
        if found is None:
            return None
        self._parsed.move_to_end(digest)
        return found[0]

    def put(self, digest: str, definition: WorkflowDef, nbytes: int) -> None:
        """Keep a parsed snapshot; ``nbytes``: its stored body's length."""
        old = self._parsed.pop(digest, None)
        if old is not None:
            self._parsed_bytes -= old[1]
        self._parsed[digest] = (definition, nbytes)
        self._parsed_bytes += nbytes
        while len(self._parsed) > self._size or self._parsed_bytes > self._max_bytes:
            self._parsed_bytes -= self._parsed.popitem(last=False)[1][1]
        self.mark_stored(digest)

    def is_stored(self, digest: str) -> bool:
        if digest in self._stored:
            self._stored.move_to_end(digest)
            return True
        return False

    def forget_stored(self) -> None:
        """Forget which snapshots are stored: a transaction that stored some was rolled back."""
        self._stored.clear()

    def mark_stored(self, digest: str) -> None:
        """Call once the transaction that stored it has committed (or forget_stored if it then fails)."""
        self._stored[digest] = None
        self._stored.move_to_end(digest)
        if len(self._stored) > self._size * 8:
            self._stored.popitem(last=False)


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
    """The task and queue rows of a new run (the run row itself needs its snapshot hash)."""
    run = decision.workflow
    if decision.updated:
        raise StoreError("The first decision of a run can only create tasks, not update them")
    plan = WritePlan()
    _plan_created(plan, decision.created, run)
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
TURN_TASKS = 1000


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


# -- task logs -----------------------------------------------------------------------


_log_decoder = msgspec.json.Decoder(str)


def encode_log_line(line: str) -> str:
    """A ``log`` column's text: the line as a JSON string, since PostgreSQL text cannot hold NUL."""
    return encode(line)


def task_logs_of(task_id: str, rows: Iterable[Sequence[Any]]) -> list[TaskExecLog] | None:
    """Log lines from ``(log, created_time)`` rows of a LEFT JOIN on the task: None when no row (no such task)."""
    found: list[TaskExecLog] | None = None
    for log, created_time in rows:
        if found is None:
            found = []
        if log is not None:
            found.append(TaskExecLog(log=_log_decoder.decode(log), task_id=task_id, created_time=created_time))
    return found


# -- idempotency ---------------------------------------------------------------------


class KeyOutcome(Enum):
    """What ``create_run`` does when the idempotency key is already held by a run."""

    RETURN_EXISTING = "return_existing"
    REFUSE = "refuse"
    TAKE_OVER = "take_over"
    """Create the new run and move the key to it."""


def resolve_key_conflict(strategy: IdempotencyStrategy | None, holder_status: WorkflowStatus) -> KeyOutcome:
    if strategy is None or strategy is IdempotencyStrategy.RETURN_EXISTING:
        return KeyOutcome.RETURN_EXISTING
    if strategy is IdempotencyStrategy.FAIL:
        return KeyOutcome.REFUSE
    if holder_status in (WorkflowStatus.RUNNING, WorkflowStatus.PAUSED):
        return KeyOutcome.REFUSE
    return KeyOutcome.TAKE_OVER


def key_conflict_message(key: str, holder: str) -> str:
    return f"Idempotency key {key!r} is already used by workflow {holder}"


# -- migrations ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Migration:
    version: int
    name: str
    sql: str


_MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")


def load_migrations(dialect: str) -> list[Migration]:
    """The numbered migrations of ``dialect`` (``sqlite`` or ``postgres``), in order."""
    folder = resources.files("baton.store") / "migrations" / dialect
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            continue
        found.append(Migration(version=int(match[1]), name=match[2], sql=entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise StoreError(f"Two {dialect} migrations share a number: {versions}")
    return found
