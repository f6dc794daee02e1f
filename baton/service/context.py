"""What every use case shares: the store, the wake-ups, the settings, the clock and the id source.

``apply_event`` is the one way a use case changes a run: one decision, one
transaction, then the wake-ups it implies and the signals it wrote for other
runs (acted on in the background; see ``service.children``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from baton.config import Settings
from baton.engine import DecideContext, Decision, Event, Signal, TaskResultReceived
from baton.engine.decision import IGNORED, Refusal
from baton.errors import ConflictError, NotFoundError
from baton.model import Task, TaskExecLog, TaskResult, TaskResultStatus, TaskStatus
from baton.service.audit import AuditService
from baton.service.decisions import Decisions, Evaluate
from baton.service.handoffs import Handoffs
from baton.service.run_ends import RunEnds
from baton.service.step_ends import StepEnds
from baton.service.wakeups import NoWakeups, Wakeups, run_key, task_key
from baton.store import Store

log = logging.getLogger(__name__)

SignalHandler = Callable[[Signal], Awaitable[None]]


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


_LOW_62_BITS = (1 << 62) - 1
_RANDOM_BITS = 74
_last_uuid_lock = threading.Lock()
_last_uuid_parts = (0, 0)
"""The millisecond and the 74 random bits of the last id this process made."""


def new_uuid() -> str:
    """A version 7 UUID (RFC 9562): Unix milliseconds in the top 48 bits, then 74 random bits, each id greater
    than the one this process made before it.

    Run and task ids sort by the millisecond they were made in, so the rows a
    server inserts land at the right-hand end of every index keyed by them (the
    primary keys, a run's tasks by run id) instead of on a random page each:
    inserts made together touch the same few pages, which a commit then writes
    once. Within a millisecond (or when the clock steps back) the random bits
    are the last id's plus one (RFC 9562's monotonic random), so a server's runs
    sort in the order they started. To a client it is an opaque UUID string, as
    Conductor's ids are.
    """
    global _last_uuid_parts
    millisecond, random_bits = wall_clock_ms(), int.from_bytes(os.urandom(10), "big") >> 6
    with _last_uuid_lock:
        last_millisecond, last_random_bits = _last_uuid_parts
        if millisecond <= last_millisecond:
            millisecond, random_bits = last_millisecond, last_random_bits + 1
            if random_bits >> _RANDOM_BITS:
                millisecond, random_bits = millisecond + 1, 0
        _last_uuid_parts = (millisecond, random_bits)
    value = (
        millisecond << 80
        | 0x7 << 76
        | (random_bits >> 62) << 64  # the 12 random bits after the version
        | 0b10 << 62  # the RFC 4122 variant
        | random_bits & _LOW_62_BITS
    )
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@dataclass(kw_only=True)
class ServiceContext:
    store: Store
    settings: Settings
    notifier: Wakeups = field(default_factory=NoWakeups)
    clock: Callable[[], int] = wall_clock_ms
    new_id: Callable[[], str] = new_uuid
    signal_handler: SignalHandler | None = None
    """Acts on a decision's signals right after its commit (the outbox relay catches what this misses)."""
    evaluate: Evaluate | None = None
    """Evaluates scripts and jq queries in the sandbox; None evaluates them in a decision thread."""
    run_end_watched: Callable[[str], bool] | None = None
    """Whether a run's end is subscribed to (``service.webhooks``): its ending decision writes a RUN_ENDED signal."""
    run_change_watched: Callable[[str], bool] | None = None
    """Whether what a run shows (its state, its documents) is subscribed to: a decision that may change it writes
    a RUN_CHANGED signal."""
    decisions: Decisions = field(init=False, repr=False)
    audit: AuditService = field(init=False, repr=False)
    """Where use cases record who did what (``service/audit.py``)."""
    run_ends: RunEnds = field(default_factory=RunEnds, init=False, repr=False)
    step_ends: StepEnds = field(default_factory=StepEnds, init=False, repr=False)
    """The durations of the steps this process's decisions ended, until they are added to the store."""
    handoffs: Handoffs = field(default_factory=Handoffs, init=False, repr=False)
    """The open offers of this process's long polls: a start hands them its new tasks (``service/handoffs.py``)."""
    _in_flight: set[asyncio.Task[None]] = field(default_factory=set, init=False, repr=False)

    def __post_init__(self) -> None:
        self.decisions = Decisions(self.store, self.evaluate, self.handoffs, self.requeue)
        self.audit = AuditService(self.store, lambda: self.clock())

    def decide_context(self) -> DecideContext:
        settings = self.settings
        return DecideContext(
            now=self.clock(),
            new_id=self.new_id,
            script_timeout_ms=settings.script_timeout_ms,
            script_memory_bytes=settings.script_memory_bytes,
            server_task_lease_seconds=settings.server_task_lease_seconds,
            max_steps_per_decision=settings.max_steps_per_decision,
            max_fork_width=settings.max_fork_width,
            max_loop_iterations=settings.max_loop_iterations,
            loop_budget=settings.decision_loop_budget,
            run_end_watched=self.run_end_watched,
            run_change_watched=self.run_change_watched,
        )

    async def apply_event(
        self, workflow_id: str, event: Event, *, signals_inline: bool = False, may_ignore: bool = False
    ) -> Decision:
        """Apply ``event`` to the run in one transaction; refusals become Baton errors.

        With ``signals_inline`` the decision's signals are acted on before this returns
        (an operation whose answer should show their effect, such as a retried child's
        parent running again); a signal that fails is left to the relay. With
        ``may_ignore`` a result ignored as too late (``IGNORED``) is returned as its
        refused decision, for the caller to report; otherwise it is a ConflictError.
        """
        ctx = self.decide_context()
        decision, _ = await self.decisions.apply(workflow_id, event, ctx)
        if decision.refusal is not None:
            raise_refusal(decision.refusal, may_ignore=may_ignore)
            return decision
        if signals_inline:
            self.publish(decision, ctx.now, act_on_signals=False)
            await self._act(decision.signals)
        else:
            self.publish(decision, ctx.now)
        return decision

    async def requeue(self, tasks: list[Task]) -> None:
        """Put tasks handed to long polls that left before they got them back in the queue at once (as an
        ``IN_PROGRESS`` result with no callback delay does), rather than after their leases."""
        for task in tasks:
            result = TaskResult(
                task_id=task.task_id,
                workflow_instance_id=task.workflow_instance_id,
                status=TaskResultStatus.IN_PROGRESS,
                worker_id=task.worker_id,
            )
            try:
                await self.apply_event(task.workflow_instance_id, TaskResultReceived(result=result), may_ignore=True)
            except Exception:  # its lease brings it back
                log.exception("task %s, handed to a poller that left, not put back in the queue", task.task_id)

    async def log_ignored(self, refusal: Refusal, what: str) -> Task:
        """Append to the ignored result's task log why it was not applied, so an operator sees it; the task."""
        task = refusal.task
        assert task is not None, "an ignored result names its task"
        line = f"{what} ignored: {refusal.message}"
        await self.store.add_task_logs(
            task.task_id, [TaskExecLog(log=line, task_id=task.task_id, created_time=self.clock())]
        )
        log.info("task %s of workflow %s: %s", task.task_id, task.workflow_instance_id, line)
        return task

    def publish(self, decision: Decision, now: int, *, act_on_signals: bool = True) -> None:
        """Wake whoever waits on what the decision changed, and act on its signals (it has committed)."""
        keys = [run_key(decision.workflow.workflow_id)]
        self.step_ends.note(decision.updated, now)
        self.step_ends.note(decision.created, now)
        for task in (*decision.created, *decision.updated):
            if task.status is TaskStatus.SCHEDULED and task.is_queued_task and task.visible_at <= now:
                keys.append(task_key(task.task_type))  # once per task: it wakes that many pollers
        if decision.workflow.status.is_terminal:
            self.run_ends.ended(decision.workflow)
        self.notifier.publish(keys)
        if decision.signals and act_on_signals:
            self._dispatch(decision.signals)

    async def _act(self, signals: list[Signal]) -> None:
        handler = self.signal_handler
        if handler is None:
            return
        for signal in signals:
            try:
                await handler(signal)
            except Exception:
                log.exception("signal %s (%s) not acted on; the relay will retry it", signal.signal_id, signal.kind)

    def _dispatch(self, signals: list[Signal]) -> None:
        """Act on committed signals in the background: the caller's answer does not wait for other runs."""
        if self.signal_handler is None:
            return
        task = asyncio.get_running_loop().create_task(self._act(signals))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)


def raise_refusal(refusal: Refusal, *, may_ignore: bool = False) -> None:
    """A refusal as the Baton error it stands for; an ``IGNORED`` one passes when ``may_ignore``."""
    if refusal.kind == "not_found":
        raise NotFoundError(refusal.message)
    if refusal.kind == IGNORED and may_ignore:
        return
    raise ConflictError(refusal.message)
