"""Per-process caches both stores keep, bounded by bytes: decoded tasks, task bodies, definition snapshots."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import TypeAlias

from baton.engine.decision import Decision
from baton.model import (
    Task,
    Workflow,
    WorkflowDef,
)
from baton.store.common.codec import Body, snapshot_of, task_decoder, workflow_decoder
from baton.store.common.plans import WritePlan


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
        run = workflow_decoder.decode(body)
        entries = self._entries
        found = [entries.get(key) for key in versions]
        sizes: dict[str, int] = {}
        fresh: dict[str, tuple[Task, int]] = {}
        if None in found:
            holes = [versions[index][0] for index, entry in enumerate(found) if entry is None]
            for task_id, version, task_body in load(holes):
                task = task_decoder.decode(task_body)
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
        run = workflow_decoder.decode(body)
        entries = self._entries
        tasks: list[Task] = []
        sizes: dict[str, int] = {}
        for task_body in task_bodies:
            task = entries.get(task_body)
            if task is None:
                task = entries[task_body] = task_decoder.decode(task_body)
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
