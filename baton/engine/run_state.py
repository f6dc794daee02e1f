"""The working copy of a run that one decision walks with, and the helpers every handler shares.

``RunState`` is a decision's copy of a run: its header, its task list indexed by
task id and by reference name (each name's latest attempt; a loop body task also
under its plain name), the document expressions resolve against, and what the
decision changed so far (tasks created, updated and removed, alerts, outbox
signals). ``RunState.decision`` turns it into the ``Decision`` the store writes.
``Progress``, ``Scope`` and ``AfterFork`` are what the decider's walk passes
along its lists.

They live apart from the decider because more than the walk changes a run: the
operator's events (``engine/operations.py``), a step's attempts
(``engine/attempts.py``) and a run's end (``engine/run_end.py``) work on the same
state. Like the rest of the engine, nothing here does I/O or reads a clock: the
time and ids come in with the ``DecideContext``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, Final

import msgspec

from baton.engine import loops, system_tasks
from baton.engine.decision import DecideContext, Decision, Refusal, Signal, SignalKind, TooLargeForTheLoop
from baton.engine.evaluations import InProcess
from baton.engine.expressions import RunDocument
from baton.model import (
    SYSTEM_TASK_TYPES,
    Task,
    TaskExecLog,
    TaskType,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
    WorkflowTask,
)

SUB_WORKFLOW: Final = TaskType.SUB_WORKFLOW.value

_RUNNING: Final = WorkflowStatus.RUNNING
_NO_BUDGET: Final = 1 << 62
_TASKS_PER_UNIT: Final = 16
"""Indexing a run's task costs about a sixteenth of making or changing one (``DecideContext.loop_budget``)."""

_replace = msgspec.structs.replace


class Progress(IntEnum):
    """How far a list got; a list is as far as its least advanced part (the larger value)."""

    DONE = 0
    """Every step of the list succeeded."""
    UNKNOWN = 1
    """Every step walked succeeded, but a fork skipped branches nothing changed in: walk in full to know."""
    BLOCKED = 2
    """A step waits for a worker, a timer or a signal."""
    STOPPED = 3
    """The run ended (or cannot advance now)."""


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a list runs: the iteration suffix its reference names get, and the innermost loop's iteration."""

    suffix: str = ""
    iteration: int = 0


TOP_SCOPE: Final = Scope()

AfterFork = tuple[WorkflowTask, Progress] | None
"""The fork step just before a step in its list, and how far its branches got."""


class RunState:
    """One decision's working copy of a run: the header, the task list and what changed."""

    __slots__ = (
        "alerts",
        "budget",
        "created",
        "ctx",
        "definition",
        "doc",
        "focus",
        "latest",
        "limits",
        "logs",
        "max_seq",
        "now",
        "position",
        "removed",
        "run",
        "signals",
        "steps",
        "tasks",
        "updated",
    )

    def __init__(self, definition: WorkflowDef, run: Workflow, ctx: DecideContext) -> None:
        self.definition = definition
        self.ctx = ctx
        self.now = ctx.now
        self.run = run
        self.tasks: list[Task] = list(run.tasks)
        self.position: dict[str, int] = {}
        self.latest: dict[str, Task] = {}
        """Each reference name's latest attempt; a loop body task also under its plain name (latest iteration)."""
        # The part of a decision that grows with the run, so kept to comprehensions. The tasks come
        # ordered by seq, and a reference name's later attempts have later seqs: the last one wins.
        tasks = self.tasks
        self.position = {task.task_id: index for index, task in enumerate(tasks)}
        self.latest = {task.reference_task_name: task for task in tasks}
        for task in [task for task in tasks if task.iteration]:
            self._alias(task)
        self.max_seq = max(tasks[-1].seq, tasks[0].seq) if tasks else 0
        self.created: dict[str, None] = {}
        self.updated: dict[str, None] = {}
        self.removed: dict[str, None] = {}
        self.focus: set[str] | None = None
        """Plain reference names of the tasks the event changed: forks walk only their branches. None: all."""
        self.alerts: list[str] = []
        self.steps = 0
        self.signals: list[Signal] = []
        self.logs: list[TaskExecLog] = []
        """Lines the decision appends to its tasks' logs (an HTTP_RESPONSE with no request to answer)."""
        self.limits = system_tasks.Limits(
            evaluator=ctx.evaluator or InProcess(ctx.script_timeout_ms, ctx.script_memory_bytes),
            max_fork_width=ctx.max_fork_width,
        )
        self.budget = _NO_BUDGET if ctx.loop_budget is None else ctx.loop_budget - len(tasks) // _TASKS_PER_UNIT
        """What is left of ``ctx.loop_budget``: each task made or changed spends one, each task of the run 1/16."""
        if self.budget < 0:
            raise TooLargeForTheLoop(f"run {run.workflow_id} has {len(tasks)} tasks")
        self.doc = RunDocument(run, self.latest, schema_version=definition.schema_version)

    def _index(self, task: Task) -> None:
        ref = task.reference_task_name
        seen = self.latest.get(ref)
        if seen is None or attempt_order(task) > attempt_order(seen):
            self.latest[ref] = task
        if task.iteration > 0:
            self._alias(task)

    def _alias(self, task: Task) -> None:
        """A loop body task is also found by its plain reference name: the latest iteration's."""
        ref = task.reference_task_name
        plain = loops.base_ref(ref)
        if plain != ref:
            seen = self.latest.get(plain)
            if seen is None or task.seq >= seen.seq:
                self.latest[plain] = task

    # -- reading ---------------------------------------------------------------

    def task(self, task_id: str) -> Task | None:
        index = self.position.get(task_id)
        return None if index is None else self.tasks[index]

    @property
    def running(self) -> bool:
        return self.run.status is _RUNNING

    # -- writing ---------------------------------------------------------------

    def _spend_budget(self) -> None:
        self.budget -= 1
        if self.budget < 0:
            raise TooLargeForTheLoop(f"a decision on run {self.run.workflow_id} changes too many tasks")

    def put(self, task: Task) -> None:
        """Replace an existing task (by id) with its new state."""
        self._spend_budget()
        index = self.position[task.task_id]
        self.tasks[index] = task
        ref = task.reference_task_name
        for key in (ref, loops.base_ref(ref)) if task.iteration > 0 else (ref,):
            latest = self.latest.get(key)
            if latest is not None and latest.task_id == task.task_id:
                self.latest[key] = task
        if task.task_id not in self.created:
            self.updated[task.task_id] = None

    def add(self, task: Task) -> None:
        self._spend_budget()
        self.position[task.task_id] = len(self.tasks)
        self.tasks.append(task)
        self._index(task)
        self.created[task.task_id] = None
        self.max_seq = max(self.max_seq, task.seq)

    def remove(self, task: Task) -> None:
        """Take a task out of the run (``keepLastN``); one made in this decision is simply never written."""
        task_id = task.task_id
        if task_id in self.created:
            del self.created[task_id]
        else:
            self.updated.pop(task_id, None)
            self.removed[task_id] = None
        self.position.pop(task_id, None)
        ref = task.reference_task_name
        if self.latest.get(ref) is task:
            del self.latest[ref]

    def live_tasks(self) -> list[Task]:
        """The run's tasks, less those removed in this decision."""
        position = self.position
        return [task for task in self.tasks if position.get(task.task_id) is not None]

    def set_run(self, **changes: Any) -> None:
        self.run = _replace(self.run, **changes)
        self.doc.workflow = self.run

    def add_signal(
        self,
        kind: SignalKind,
        target_workflow_id: str,
        *,
        task_id: str | None = None,
        name: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Ask something of another run: an outbox row, written with the decision."""
        self.signals.append(
            Signal(
                signal_id=self.ctx.new_id(),
                kind=kind,
                source_workflow_id=self.run.workflow_id,
                target_workflow_id=target_workflow_id,
                task_id=task_id,
                name=name,
                reason=reason,
                created_at=self.now,
            )
        )

    def decision(self) -> Decision:
        tasks, position = self.tasks, self.position
        if len(position) != len(tasks):
            tasks = self.live_tasks()
        current = self.tasks
        return Decision(
            workflow=_replace(self.run, update_time=self.now, tasks=tasks),
            created=[current[position[task_id]] for task_id in self.created],
            updated=[current[position[task_id]] for task_id in self.updated],
            removed=list(self.removed),
            alerts=self.alerts,
            signals=self.signals,
            logs=self.logs,
        )


def attempt_order(task: Task) -> tuple[int, int, int]:
    """Orders a reference name's attempts: loop iteration, then retry, then creation."""
    return (task.iteration, task.retry_count, task.seq)


def is_worker(task: Task) -> bool:
    """Polled by a worker: a task of a type that is not a system task's."""
    return task.task_type not in SYSTEM_TASK_TYPES


def is_queued(task: Task) -> bool:
    """Handed out from the queue with a lease: a worker task, or one the server's executors run."""
    return task.is_queued_task


def refuse(run: Workflow, kind: str, message: str, task: Task | None = None) -> Decision:
    """The decision that refuses an event (``kind``: ``conflict``, ``not_found`` or ``IGNORED`` with the task it
    was for): nothing is written."""
    return Decision(workflow=run, refusal=Refusal(kind=kind, message=message, task=task))
