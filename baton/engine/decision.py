"""What the decider hands back: the new state of a run, as values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

import msgspec

from baton.engine.evaluations import Evaluator
from baton.model import Task, TaskExecLog, Workflow, WorkflowDef


@dataclass(frozen=True, kw_only=True)
class DecideContext:
    """Everything from outside the decider that it needs: the clock, an id source, an evaluator and the bounds."""

    now: int
    """Epoch milliseconds."""
    new_id: Callable[[], str]
    script_timeout_ms: int = 1000
    script_memory_bytes: int = 32 * 1024 * 1024
    evaluator: Evaluator | None = None
    """Where scripts and jq queries are evaluated; None: in this thread, bounded by the two fields above."""
    server_task_lease_seconds: int = 30
    """The lease of a task the server's executors run (HTTP, EVENT, SUB_WORKFLOW, START_WORKFLOW)."""
    max_steps_per_decision: int = 2000
    """Tasks one decision may schedule or run inline before it stops the run as runaway (worker tasks aside)."""
    max_fork_width: int = 20_000
    """Branches a dynamic fork may have; a wider one fails its fork task."""
    max_loop_iterations: int = 10_000
    """Iterations a DO_WHILE may run; the next one fails the loop task."""
    http_request: dict[str, Any] | None = None
    """The HTTP request that starts this run through its first step's trigger (an HTTP_ENDPOINT): that step
    completes with it as its output (``engine/http_steps.py``)."""
    run_end_watched: Callable[[str], bool] | None = None
    """Whether the end of a run (by id) is subscribed to (a webhook): its ending decision then writes a RUN_ENDED
    signal. None: nobody is."""
    run_change_watched: Callable[[str], bool] | None = None
    """Whether what a run shows (its state, its documents) is subscribed to: a decision that may change it then
    writes a RUN_CHANGED signal (``engine/run_changes.py``). None: nobody is."""
    loop_budget: int | None = None
    """Tasks a decision may make or change (each task the run holds counts 1/16) before ``TooLargeForTheLoop``;
    None: no bound (the decision is being made off the event loop)."""


class TooLargeForTheLoop(Exception):
    """A decision grew past ``DecideContext.loop_budget``: make it again off the event loop."""


OFF_THE_LOOP: Final = "off_the_loop"
"""The kind of ``Refusal`` a step gives for a decision it will make off the event loop and hand back later."""


IGNORED: Final = "ignored"
"""The kind of ``Refusal`` for a result that came too late (its task ended or timed out, or its run ended):
Conductor answers such a result 200 and does not apply it; the service logs it on the task."""


@dataclass(frozen=True, kw_only=True)
class Refusal:
    """The event could not be applied; nothing changes.

    ``kind`` is ``conflict``, ``not_found``, ``IGNORED`` or ``OFF_THE_LOOP``; an ignored
    result names the ``task`` it was for.
    """

    kind: str
    message: str
    task: Task | None = None


class SignalKind(str, Enum):
    CHILD_ENDED = "CHILD_ENDED"
    """A sub-workflow ended: its parent's SUB_WORKFLOW task gets the result."""
    TERMINATE_CHILD = "TERMINATE_CHILD"
    """A run ended while a sub-workflow of it was running: terminate the child."""
    START_FAILURE_WORKFLOW = "START_FAILURE_WORKFLOW"
    """A run ended FAILED or TIMED_OUT and its definition names a ``failureWorkflow``."""
    RETRY_CHILD = "RETRY_CHILD"
    """A retry with ``resumeSubworkflowTasks`` put a SUB_WORKFLOW task back to wait: retry its child."""
    CHILD_RETRIED = "CHILD_RETRIED"
    """A sub-workflow was retried, restarted or rerun (``reason`` says which): its parent's SUB_WORKFLOW task
    waits for it again."""
    EVENT_PUBLISHED = "EVENT_PUBLISHED"
    """An EVENT task with a ``conductor`` sink published ``payload`` as the event ``name``: the handlers listening
    on that event act on it."""
    RUN_ENDED = "RUN_ENDED"
    """A run whose end is subscribed to ended: its ``workflow.completed`` webhooks are recorded
    (``service.webhooks``)."""
    RUN_CHANGED = "RUN_CHANGED"
    """A decision may have changed what a watched run shows (its state, its documents): the webhooks compare it
    with what they last told (``service.run_changes``)."""


class Signal(msgspec.Struct, kw_only=True, frozen=True):
    """Something a decision asks of another run, written in the decision's transaction (an outbox row).

    Acted on after the commit, at least once: each kind is idempotent.
    """

    signal_id: str
    kind: SignalKind
    source_workflow_id: str
    """The run whose decision wrote it."""
    target_workflow_id: str
    """The run it acts on: the parent, the child, or the id the failure workflow is started with."""
    task_id: str | None = None
    """The parent's SUB_WORKFLOW task (CHILD_ENDED, RETRY_CHILD, CHILD_RETRIED; TERMINATE_CHILD when the task was
    skipped rather than the parent ended), or the task that failed the run (START_FAILURE_WORKFLOW)."""
    name: str | None = None
    """The failure workflow's name."""
    reason: str | None = None
    payload: dict[str, Any] | None = None
    """The published event's payload (EVENT_PUBLISHED)."""
    created_at: int = 0


@dataclass(kw_only=True)
class Decision:
    """The result of one decision: written by the store in one transaction, or not at all.

    ``workflow`` is the run after the decision (its ``tasks`` list is not read by
    the store: ``created``, ``updated`` and ``removed`` are). ``refusal`` set
    means the event was refused and nothing is to be written.
    """

    workflow: Workflow
    created: list[Task] = field(default_factory=list)
    updated: list[Task] = field(default_factory=list)
    refusal: Refusal | None = None
    signals: list[Signal] = field(default_factory=list)
    """Outbox rows the store writes with the decision."""
    removed: list[str] = field(default_factory=list)
    """Ids of the run's tasks to delete, with their queue rows, timers and logs (restart, rerun, a
    DO_WHILE's ``keepLastN``); deleted before ``created`` is inserted, never listed in ``updated``."""
    definition: WorkflowDef | None = None
    """A new definition for the run to execute from now on (restart with the latest definition)."""
    logs: list[TaskExecLog] = field(default_factory=list)
    """Log lines to append to tasks of the run (a worker result's ``logs``), each with its ``task_id``."""
    alerts: list[str] = field(default_factory=list)
    """ALERT_ONLY timeouts raised by this decision, for the caller to log."""

    @property
    def changed(self) -> bool:
        return self.refusal is None
