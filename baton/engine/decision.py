"""What the decider hands back: the new state of a run, as values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from baton.model import Task, TaskExecLog, Workflow, WorkflowDef


@dataclass(frozen=True, kw_only=True)
class DecideContext:
    """Everything from outside the decider that it needs: the clock and an id source."""

    now: int
    """Epoch milliseconds."""
    new_id: Callable[[], str]
    script_timeout_ms: int = 1000
    script_memory_bytes: int = 32 * 1024 * 1024


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """The event could not be applied; nothing changes. ``kind`` is ``conflict`` or ``not_found``."""

    kind: str
    message: str


@dataclass(kw_only=True)
class Decision:
    """The result of one decision: written by the store in one transaction, or not at all.

    ``workflow`` is the run after the decision (its ``tasks`` list is not read by
    the store: ``created`` and ``updated`` are). ``refusal`` set means the event
    was refused and nothing is to be written.
    """

    workflow: Workflow
    created: list[Task] = field(default_factory=list)
    updated: list[Task] = field(default_factory=list)
    refusal: Refusal | None = None
    removed: list[str] = field(default_factory=list)
    """Ids of the run's tasks to delete, with their queue rows, timers and logs (restart, rerun);
    deleted before ``created`` is inserted, never listed in ``updated``."""
    definition: WorkflowDef | None = None
    """A new definition for the run to execute from now on (restart with the latest definition)."""
    logs: list[TaskExecLog] = field(default_factory=list)
    """Log lines to append to tasks of the run (a worker result's ``logs``), each with its ``task_id``."""

    @property
    def changed(self) -> bool:
        return self.refusal is None
