"""Runs that ended in this process, handed to the sync executes waiting on them, so their answer needs no read.

A decision that ends a run has committed the run as it carries it (``Decision.workflow``
is what the store wrote), so a sync execute woken by it answers with it instead of
reading the run back: one round trip less at the end of every execute. A run ended by
another process wakes nobody here, and is read as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from baton.model import Workflow


class EndWatch:
    """What one waiter learnt: the run as its ending decision wrote it, or None yet."""

    __slots__ = ("run",)

    def __init__(self) -> None:
        self.run: Workflow | None = None


class RunEnds:
    def __init__(self) -> None:
        self._watches: dict[str, list[EndWatch]] = {}

    @contextmanager
    def watch(self, workflow_id: str) -> Iterator[EndWatch]:
        watch = EndWatch()
        self._watches.setdefault(workflow_id, []).append(watch)
        try:
            yield watch
        finally:
            watches = self._watches[workflow_id]
            watches.remove(watch)
            if not watches:
                del self._watches[workflow_id]

    def ended(self, run: Workflow) -> None:
        """``run`` reached a terminal status, and that is committed."""
        for watch in self._watches.get(run.workflow_id, ()):
            watch.run = run
