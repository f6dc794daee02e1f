"""New tasks handed straight to long polls waiting in this process (``docs/design.md``, "Handing a new task to a
waiting poll").

A long poll of one task of a type without limits, while it waits, holds an open ``Offer``. A start or a decision
that creates a worker task of that type, ready now, takes the offer: the task is written already claimed by that
poller (IN_PROGRESS, its lease timer, no queue row) in the start's or decision's own statement, and the poller
gets it when that has committed, without a claim of its own. A write that fails releases the offer and the poller
claims as before. A poller that leaves before its handed task reaches it gives the task back to the queue at once
(``TaskService.poll``). Only this process's pollers are offered: another server's claim the queue as before.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Iterator
from contextlib import contextmanager

import msgspec

from baton.engine import Decision
from baton.model import Task, TaskStatus
from baton.service.wakeups import Waiter
from baton.store.common.plans import claimed


class _State(enum.Enum):
    OPEN = "open"
    TAKEN = "taken"
    """A start or decision holds it: its statement is in flight."""
    SETTLED = "settled"
    """Its start or decision committed (``tasks`` set) or did not (``tasks`` empty)."""


class Offer:
    """A waiting long poll's offer to take one task of ``task_type``."""

    __slots__ = ("_settled", "_state", "_waiter", "abandoned", "task_type", "tasks", "woke", "worker_id")

    def __init__(self, task_type: str, worker_id: str | None, waiter: Waiter) -> None:
        self.task_type = task_type
        self.worker_id = worker_id
        self._waiter = waiter
        self._state = _State.OPEN
        self.tasks: list[Task] = []
        self._settled: asyncio.Future[None] | None = None
        self.abandoned = False
        """Its poller left before the write settled it: whatever it was handed goes back to the queue."""
        self.woke = False
        """The hand-off woke the poller's waiter (so a wake it took was this one, not a publish's)."""

    def _settle(self, tasks: list[Task]) -> None:
        self._state = _State.SETTLED
        self.tasks = tasks
        if self._settled is not None and not self._settled.done():
            self._settled.set_result(None)
        if tasks and self._settled is None and not self._waiter.woken:  # its poller waits in the waiter
            self.woke = True
            self._waiter.wake()

    async def outcome(self) -> list[Task]:
        """What a start handed this offer (none when it was not taken or the start failed); waits while a start
        that took it is in flight."""
        if self._state is _State.TAKEN:
            self._settled = asyncio.get_running_loop().create_future()
            try:
                await self._settled
            except asyncio.CancelledError:
                self.abandoned = True
                raise
        return self.tasks


class Hand:
    """The offers one start or decision took, with the tasks it claimed for them: settled once its write is known."""

    __slots__ = ("_given",)

    def __init__(self, given: list[tuple[Offer, Task]]) -> None:
        self._given = given

    def __bool__(self) -> bool:
        return bool(self._given)

    def delivered(self) -> list[Task]:
        """The write committed: each poller gets its task. The tasks of pollers that left meanwhile (to requeue)."""
        left: list[Task] = []
        for offer, task in self._given:
            if offer.abandoned:
                left.append(task)
            else:
                offer._settle([task])
        return left

    def released(self) -> None:
        """The write did not happen: each poller claims as before."""
        for offer, _ in self._given:
            offer._settle([])


class Handoffs:
    """The open offers of this process's long polls, by task type, oldest first."""

    def __init__(self) -> None:
        self._open: dict[str, dict[Offer, None]] = {}
        self._drained: set[str] = set()

    def claimed(self, task_type: str, *, short: bool) -> None:
        """Note what this process's latest claim of ``task_type`` found: fewer tasks than asked for (``short``)
        or as many."""
        if short:
            self._drained.add(task_type)
        else:
            self._drained.discard(task_type)

    def drained(self, task_type: str) -> bool:
        """Whether this process's latest claim of ``task_type`` found fewer tasks than it asked for. A long poll
        then offers while it claims too: its claim and the next start often cross, and the start's task would
        otherwise wait for the claim to end and a second one."""
        return task_type in self._drained

    @contextmanager
    def offer(self, task_type: str, worker_id: str | None, waiter: Waiter) -> Iterator[Offer]:
        """An offer open while the context is (a long poll's wait); ``waiter`` is woken when it is handed a task."""
        offer = Offer(task_type, worker_id, waiter)
        offers = self._open.setdefault(task_type, {})
        offers[offer] = None
        try:
            yield offer
        finally:
            if offers.pop(offer, 0) is None and not offers and self._open.get(task_type) is offers:
                del self._open[task_type]
            if offer._state is _State.TAKEN:  # the poll left (cancelled) while the start was in flight
                offer.abandoned = True

    def waiting(self, task_type: str) -> int:
        """How many long polls of ``task_type`` hold an open offer."""
        return len(self._open.get(task_type, ()))

    def take(self, decision: Decision, now: int) -> tuple[Decision, Hand]:
        """``decision`` with each of its new worker tasks that an open offer can take claimed for it, and the
        offers taken (to settle after the write). The decision unchanged when no offer fits."""
        if not self._open:
            return decision, Hand([])
        given: list[tuple[Offer, Task]] = []
        replaced: dict[str, Task] = {}
        for task in decision.created:
            if task.status is not TaskStatus.SCHEDULED or not task.is_worker_task or task.visible_at > now:
                continue
            offers = self._open.get(task.task_type)
            if not offers:
                continue
            offer = next(iter(offers))
            del offers[offer]
            if not offers:
                del self._open[task.task_type]
            offer._state = _State.TAKEN
            handed = claimed(task, worker_id=offer.worker_id, now=now)
            given.append((offer, handed))
            replaced[task.task_id] = handed
        if not given:
            return decision, Hand([])
        run = decision.workflow
        taken = msgspec.structs.replace(run, tasks=[replaced.get(task.task_id, task) for task in run.tasks])
        created = [replaced.get(task.task_id, task) for task in decision.created]
        return dataclasses.replace(decision, workflow=taken, created=created), Hand(given)
