"""Per-process copies of the runs this process decides on, so a decision reads what changed, not the run.

SQLite (``CachedRun``): a run's copy is its task list as this process last wrote
or claimed it. This process keeps it in step with its own decisions and claims,
and one connection does all of them; a commit through any other connection
(another process on the file, the CLI) shows in SQLite's ``data_version``, which
is read each time the write lock is taken, and then every copy is dropped: the
next decision on each run reads it again (through ``caches.TaskCache``).

PostgreSQL (``KnownRun``): the copy is keyed by the run row's ``row_version``,
which every decision bumps. A decision made from the copy is written with that
version as its guard, so a copy that another process made stale costs a
refused write (which reads the run afresh in the same statement), never a
wrong one. Outside decisions only a claim changes a task row; this process's
claims update the copy, and another's leave it as an unlocked read taken just
before that claim would have been, which the write's guards already handle.

Either way the copies are bounded by the bytes they hold (``RunCache``: their
tasks' encoded length, ``run_cache_bytes``), and a removed run's copy is dropped.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import msgspec

from baton.engine.decision import Decision
from baton.model import Task, Workflow

Sizes = Mapping[str, int]
"""Encoded body length by task id, for the tasks a write or read handled: what the caches count."""

TASK_BYTES_UNKNOWN = 1024
"""The size counted for a task whose body length was not at hand (rare: the copy was made from structs)."""


@dataclass(kw_only=True)
class CachedRun:
    """A run's tasks in seq order, each with its row version and the length of its encoded body."""

    versions: list[tuple[str, int]]
    """``(task_id, row_version)`` in seq order."""
    tasks: list[Task]
    position: dict[str, int]
    sizes: list[int]
    """Encoded body length of each task, in seq order: the copy's cost, as the caches count it."""
    nbytes: int = 0
    """``sum(sizes)``."""

    @classmethod
    def of(cls, versions: list[tuple[str, int]], tasks: list[Task], sizes: Sizes | None = None) -> CachedRun:
        position = {task_id: index for index, (task_id, _) in enumerate(versions)}
        lengths = [_size(sizes, task_id) for task_id, _ in versions]
        return cls(versions=list(versions), tasks=list(tasks), position=position, sizes=lengths, nbytes=sum(lengths))

    def apply(self, decision: Decision, sizes: Sizes | None = None) -> None:
        """Bring the copy to what the decision wrote: its removals first, then its updates and new tasks.

        ``sizes``: the encoded length of each task the decision wrote (its plan's rows).
        """
        if decision.removed:
            gone = set(decision.removed)
            kept = [
                (pair, task, size)
                for pair, task, size in zip(self.versions, self.tasks, self.sizes, strict=True)
                if pair[0] not in gone
            ]
            self._reorder(kept)
        versions, tasks, position, lengths = self.versions, self.tasks, self.position, self.sizes
        for task in decision.updated:
            index = position[task.task_id]
            versions[index] = (task.task_id, versions[index][1] + 1)
            tasks[index] = task
            if sizes is not None and task.task_id in sizes:
                self.nbytes += sizes[task.task_id] - lengths[index]
                lengths[index] = sizes[task.task_id]
        top = tasks[-1].seq if tasks else 0
        in_order = True
        for task in decision.created:
            position[task.task_id] = len(tasks)
            versions.append((task.task_id, 0))
            tasks.append(task)
            lengths.append(_size(sizes, task.task_id))
            self.nbytes += lengths[-1]
            in_order = in_order and task.seq > top
            top = max(top, task.seq)
        if not in_order:  # a new task took a seq below one kept (a rerun): keep the copy in seq order
            self._reorder(sorted(zip(versions, tasks, lengths, strict=True), key=lambda entry: entry[1].seq))

    def _reorder(self, entries: list[tuple[tuple[str, int], Task, int]]) -> None:
        self.versions = [version for version, _, _ in entries]
        self.tasks = [task for _, task, _ in entries]
        self.sizes = [size for _, _, size in entries]
        self.position = {task_id: index for index, (task_id, _) in enumerate(self.versions)}
        self.nbytes = sum(self.sizes)

    def claimed(self, task: Task, version_before: int) -> bool:
        """A claim wrote ``task`` over the row at ``version_before``; False if the copy did not hold that row."""
        index = self.position.get(task.task_id)
        if index is None or self.versions[index][1] != version_before:
            return False
        self.versions[index] = (task.task_id, version_before + 1)
        self.tasks[index] = task
        return True

    def task_ids(self) -> list[str]:
        return [task_id for task_id, _ in self.versions]


def _size(sizes: Sizes | None, task_id: str) -> int:
    if sizes is None:
        return TASK_BYTES_UNKNOWN
    return sizes.get(task_id, TASK_BYTES_UNKNOWN)


@dataclass(frozen=True, kw_only=True)
class KnownRun:
    """A run as this process last wrote it (PostgreSQL): enough to decide on it without reading it."""

    row_version: int
    """The run row's version after that write: a decision made from this copy is written only if it is current."""
    digest: str
    """The definition snapshot the run executes."""
    header: Workflow
    """The run without its tasks (its ``tasks`` field is not read)."""
    tasks: CachedRun

    @property
    def nbytes(self) -> int:
        return self.tasks.nbytes

    def run(self) -> Workflow:
        """The run with its tasks, as a new struct (the copy's tasks are shared: nothing may mutate them)."""
        return msgspec.structs.replace(self.header, tasks=list(self.tasks.tasks))

    def loaded(self, run: Workflow) -> LoadedTasks:
        """``run``'s tasks (from ``run()``) by id, through the copy's index."""
        return LoadedTasks(run.tasks, self.tasks.position)


class LoadedTasks(Mapping[str, Task]):
    """A run's tasks as loaded, by id, without building a dict of them all."""

    def __init__(self, tasks: list[Task], position: Mapping[str, int]) -> None:
        self._tasks = tasks
        self._position = position

    def __getitem__(self, task_id: str) -> Task:
        return self._tasks[self._position[task_id]]

    def __contains__(self, task_id: object) -> bool:
        return task_id in self._position

    def __iter__(self) -> Iterator[str]:
        return iter(self._position)

    def __len__(self) -> int:
        return len(self._position)


class RunTurns:
    """This process's decisions on one run take turns: each waits for the one before it to finish.

    A decision made while another on the same run is in flight would be made
    from the copy that one is about to change, and its write refused; waiting
    its turn costs less. Only runs with a decision in flight have a lock here.
    """

    def __init__(self) -> None:
        self._turns: dict[str, _Turn] = {}

    def turn(self, workflow_id: str) -> _Turn:
        """``async with`` it for the decision's turn on ``workflow_id``."""
        turn = self._turns.get(workflow_id)
        if turn is None:
            turn = self._turns[workflow_id] = _Turn(self._turns, workflow_id)
        return turn


class _Turn:
    """One run's lock and how many decisions hold or wait for it; gone from the table when none do."""

    __slots__ = ("_lock", "_table", "_users", "_workflow_id")

    def __init__(self, table: dict[str, _Turn], workflow_id: str) -> None:
        self._table = table
        self._workflow_id = workflow_id
        self._lock = asyncio.Lock()
        self._users = 0

    async def __aenter__(self) -> None:
        self._users += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self._leave()
            raise

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()
        self._leave()

    def _leave(self) -> None:
        self._users -= 1
        if self._users == 0:
            del self._table[self._workflow_id]


class Sized(Protocol):
    @property
    def nbytes(self) -> int: ...


Cached = TypeVar("Cached", bound=Sized)


class RunCache(Generic[Cached]):
    """The runs this process decided on lately, by id; bounded by the bytes they hold (least recently used out).

    A copy counts its tasks' encoded body lengths (``nbytes``), measured when it
    is put: a copy changed in place is put again to be counted anew. A copy
    larger than the whole budget is not kept (the next decision on that run reads
    it), so the budget holds whatever the runs' shapes.
    """

    def __init__(self, max_bytes: int = 64 << 20, max_runs: int = 4096) -> None:
        self._max_bytes = max_bytes
        self._max_runs = max_runs
        self._runs: OrderedDict[str, tuple[Cached, int]] = OrderedDict()
        self._bytes = 0

    @property
    def nbytes(self) -> int:
        """What the copies held count, as of their last ``put``."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._runs)

    def get(self, workflow_id: str) -> Cached | None:
        """The copy, counted as used."""
        entry = self._runs.get(workflow_id)
        if entry is None:
            return None
        self._runs.move_to_end(workflow_id)
        return entry[0]

    def put(self, workflow_id: str, cached: Cached) -> None:
        """Keep ``cached`` (or count it anew), then drop the least recently used copies until within bounds."""
        self.forget(workflow_id)
        size = cached.nbytes
        if size > self._max_bytes:
            return
        self._runs[workflow_id] = (cached, size)
        self._bytes += size
        while self._bytes > self._max_bytes or len(self._runs) > self._max_runs:
            _, (_, dropped) = self._runs.popitem(last=False)
            self._bytes -= dropped

    def peek(self, workflow_id: str) -> Cached | None:
        entry = self._runs.get(workflow_id)
        return None if entry is None else entry[0]

    def forget(self, workflow_id: str) -> Cached | None:
        """Drop the run's copy; the copy it was, if any."""
        entry = self._runs.pop(workflow_id, None)
        if entry is None:
            return None
        self._bytes -= entry[1]
        return entry[0]

    def clear(self) -> None:
        self._runs.clear()
        self._bytes = 0
