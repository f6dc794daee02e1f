"""The data the store takes and returns (the interface itself, by role: ``roles.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from baton.engine.decision import Decision
from baton.model import Task, TaskDef, Workflow, WorkflowDef
from baton.model.search_query import Query, SortKey

DecisionStep = Callable[[Workflow, WorkflowDef], Decision]
"""A pure function from a run (with all its tasks, ordered by ``seq``) and its definition to a decision.

It must not mutate the run, its tasks or the definition: a store may share
decoded tasks and definitions between decisions (``caches.TaskCache``).
"""


@dataclass(frozen=True, kw_only=True)
class StartResult:
    workflow_id: str
    created: bool
    """False when an idempotency key returned an existing run."""


@dataclass(frozen=True, kw_only=True)
class WaitingTask:
    """A step of a running run that waits for something from outside: an event, a person, a request."""

    workflow_id: str
    workflow_name: str
    correlation_id: str | None
    task_id: str
    reference_task_name: str
    task_type: str
    input_data: dict[str, Any]
    scheduled_time: int


@dataclass(frozen=True, kw_only=True)
class ClaimLimits:
    """A task type's limits on hand-outs, from its registered TaskDef."""

    concurrent: int | None = None
    """``concurrentExecLimit``: at most this many IN_PROGRESS at once."""
    per_window: int | None = None
    """``rateLimitPerFrequency``: at most this many handed out per window."""
    window_ms: int = 1000
    """``rateLimitFrequencyInSeconds`` (Conductor's default: 1 s), in milliseconds."""

    @classmethod
    def of(cls, task_def: TaskDef | None) -> ClaimLimits | None:
        """The limits a TaskDef sets; None when it sets none (a non-positive value is no limit)."""
        if task_def is None:
            return None
        concurrent = task_def.concurrent_exec_limit
        per_window = task_def.rate_limit_per_frequency
        window = task_def.rate_limit_frequency_in_seconds
        limits = cls(
            concurrent=concurrent if concurrent is not None and concurrent > 0 else None,
            per_window=per_window if per_window is not None and per_window > 0 else None,
            window_ms=(window if window is not None and window > 0 else 1) * 1000,
        )
        return None if limits.concurrent is None and limits.per_window is None else limits

    def allowed(self, count: int, *, in_progress: int, in_window: int) -> int:
        """How many of ``count`` may be handed out now."""
        if self.concurrent is not None:
            count = min(count, self.concurrent - in_progress)
        if self.per_window is not None:
            count = min(count, self.per_window - in_window)
        return max(count, 0)


@dataclass(frozen=True)
class ClaimRequest:
    """What ``transact_then_claim`` claims after the decision: as ``Store.claim_tasks`` takes it."""

    task_type: str
    worker_id: str | None
    count: int
    now: int
    limits: ClaimLimits | None = None


ClaimAfter = Callable[[Decision], ClaimRequest | None]
"""From a decision, what to claim in the same transaction; None for nothing."""


@dataclass(frozen=True, kw_only=True)
class DueTimer:
    workflow_id: str
    task_id: str | None = None
    """None for the run's own timer."""


@dataclass(frozen=True)
class RunPosition:
    """Where a run stands in the runs' default order (newest first): its start time, then its id."""

    start_time: int
    workflow_id: str


@dataclass(frozen=True, kw_only=True)
class SearchRequest:
    """A parsed search: its fields are those of ``search_query.WORKFLOW_FIELDS`` or ``TASK_FIELDS``."""

    query: Query | None = None
    free_text: tuple[str, ...] = ()
    """Words that must each appear (where: see ``store/common/search.py``); none for everything."""
    sort: tuple[SortKey, ...] = ()
    """Empty: newest first (start time, then id, descending)."""
    start: int = 0
    size: int = 100
    older_than: RunPosition | None = None
    """Runs only, in the default order: only runs after this one in it (a page of older runs, read through the
    start-time index however deep it is, where ``start`` would skip every run before it)."""
    newer_than: RunPosition | None = None
    """Runs only, in the default order: only runs before this one (the page of newer runs next to it, still
    newest first)."""
    with_total: bool = True
    """False: no count is run, and ``total_hits`` is only ``start`` and the rows returned (ask for a row more
    than is shown to learn whether more follow)."""


@dataclass(frozen=True, kw_only=True)
class RunPage:
    total_hits: int
    results: list[Workflow]
    """Run headers, without their tasks."""


@dataclass(frozen=True, kw_only=True)
class TaskPage:
    total_hits: int
    results: list[Task]


@dataclass(frozen=True, kw_only=True)
class RunTaskPage:
    """A page of one run's tasks (Conductor's ``TaskListSearchResultSummary``)."""

    total_hits: int
    """How many of the run's tasks match the status filter (all of them without one)."""
    results: list[Task]
    summary: dict[str, int]
    """How many of the run's tasks are in each status, whatever the filter."""


TOTAL_HITS_CAP = 10_000
"""``total_hits`` counts matches up to here and says this many beyond (as Elasticsearch does by default)."""
