"""Per-process copies of the runs this process decides on, so a decision reads what changed, not the run.

A run's task rows are summed up by a signature the database computes from an
index alone: ``(count, sum of row versions, highest seq)``. Every write to a
task row changes it (an insert raises the highest seq, an update or a claim
raises a row version, a removal lowers the count), so when the signature read
in a decision's transaction is the one this process expects, the cached task
list is exactly what the database holds, and nothing else need be read. This
process keeps its copy in step with its own decisions and claims; a write by
another process (another server on the file, the CLI) changes the signature,
and the run is read again in full (through ``sql.TaskCache``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from baton.engine.decision import Decision
from baton.model import Task

Signature = tuple[int, int, int]
"""``(count(*), sum(row_version), max(seq))`` of a run's task rows."""


@dataclass(kw_only=True)
class CachedRun:
    signature: Signature
    versions: list[tuple[str, int]]
    """``(task_id, row_version)`` in seq order."""
    tasks: list[Task]
    position: dict[str, int]

    @classmethod
    def of(cls, signature: Signature, versions: list[tuple[str, int]], tasks: list[Task]) -> CachedRun:
        position = {task_id: index for index, (task_id, _) in enumerate(versions)}
        return cls(signature=signature, versions=list(versions), tasks=list(tasks), position=position)

    def apply(self, decision: Decision) -> None:
        """Bring the copy to what the decision wrote: its removals first, then its updates and new tasks."""
        count, total, top = self.signature
        if decision.removed:
            gone = set(decision.removed)
            total -= sum(version for task_id, version in self.versions if task_id in gone)
            count -= len(gone)
            kept = [(pair, task) for pair, task in zip(self.versions, self.tasks, strict=True) if pair[0] not in gone]
            self.versions = [pair for pair, _ in kept]
            self.tasks = [task for _, task in kept]
            self.position = {task_id: index for index, (task_id, _) in enumerate(self.versions)}
            top = max((task.seq for task in self.tasks), default=0)
        versions, tasks, position = self.versions, self.tasks, self.position
        for task in decision.updated:
            index = position[task.task_id]
            versions[index] = (task.task_id, versions[index][1] + 1)
            tasks[index] = task
            total += 1
        in_order = True
        for task in decision.created:
            position[task.task_id] = len(tasks)
            versions.append((task.task_id, 0))
            tasks.append(task)
            count += 1
            in_order = in_order and task.seq > top
            top = max(top, task.seq)
        if not in_order:  # a new task took a seq below one kept (a rerun): keep the copy in seq order
            pairs = sorted(zip(versions, tasks, strict=True), key=lambda pair: pair[1].seq)
            self.versions = [version for version, _ in pairs]
            self.tasks = [task for _, task in pairs]
            self.position = {task_id: index for index, (task_id, _) in enumerate(self.versions)}
        self.signature = (count, total, top)

    def claimed(self, task: Task, version_before: int) -> bool:
        """A claim wrote ``task`` over the row at ``version_before``; False if the copy did not hold that row."""
        index = self.position.get(task.task_id)
        if index is None or self.versions[index][1] != version_before:
            return False
        self.versions[index] = (task.task_id, version_before + 1)
        self.tasks[index] = task
        count, total, top = self.signature
        self.signature = (count, total + 1, top)
        return True


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


class RunCache:
    """The runs this process decided on lately, each with the signature it expects; bounded (oldest out)."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._runs: OrderedDict[str, CachedRun] = OrderedDict()

    def get(self, workflow_id: str, signature: Signature) -> CachedRun | None:
        cached = self._runs.get(workflow_id)
        if cached is None:
            return None
        if cached.signature != signature:
            del self._runs[workflow_id]
            return None
        self._runs.move_to_end(workflow_id)
        return cached

    def put(self, workflow_id: str, cached: CachedRun) -> None:
        self._runs[workflow_id] = cached
        self._runs.move_to_end(workflow_id)
        if len(self._runs) > self._size:
            self._runs.popitem(last=False)

    def peek(self, workflow_id: str) -> CachedRun | None:
        return self._runs.get(workflow_id)

    def forget(self, workflow_id: str) -> None:
        self._runs.pop(workflow_id, None)

    def clear(self) -> None:
        self._runs.clear()
