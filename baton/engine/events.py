"""The events a run reacts to. Each has its own ``_apply_<kind>`` handler in the decider."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from baton.model import TaskResult, TaskResultStatus


@dataclass(frozen=True, kw_only=True)
class TaskResultReceived:
    """A worker (or the API) reported on a task by its id."""

    result: TaskResult


@dataclass(frozen=True, kw_only=True)
class TaskStatusByRef:
    """``POST /api/tasks/{workflowId}/{ref}/{status}``: complete the pending task with that reference name."""

    reference_task_name: str
    status: TaskResultStatus
    output: dict[str, Any] = field(default_factory=dict)
    worker_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class TimerFired:
    """A task's timer came due: a worker's lease ran out, a WAIT's time came, or one of its timeouts."""

    task_id: str


@dataclass(frozen=True, kw_only=True)
class RunTimerFired:
    """The run's own timer came due: its WorkflowDef ``timeoutSeconds`` ran out."""


@dataclass(frozen=True, kw_only=True)
class Terminate:
    """Terminate the run (``DELETE /api/workflow/{id}``)."""

    reason: str | None = None


Event = TaskResultReceived | TaskStatusByRef | TimerFired | RunTimerFired | Terminate
