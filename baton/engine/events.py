"""The events a run reacts to. Each has its own ``_apply_<kind>`` handler, found by the event's type.

The decider's handlers are listed in ``decider.HANDLERS``; the operator's and the
linked runs' in ``engine/operations.py``, whose ``apply`` dispatches every event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from baton.model import TaskResult, TaskResultStatus, Workflow, WorkflowDef

MergeVariables = Callable[[Workflow], dict[str, Any]]
"""Variables to set over the run's, computed from the run as the decision sees it (its header: input,
variables...). Decisions on one run are serialised and may be made again on a newer run, so it must be pure:
the same run gives the same variables, and nothing outside is touched."""


@dataclass(frozen=True, kw_only=True)
class TaskResultReceived:
    """A worker (or the API) reported on a task by its id.

    ``merge_variables``: the run's variables change in the decision that records the result (an event's payload
    merged into a Ballerine context together with the step it completes), so the two are one write.
    """

    result: TaskResult
    merge_variables: MergeVariables | None = None


@dataclass(frozen=True, kw_only=True)
class EventPublished:
    """The server's executor published an EVENT task's event (a ``conductor`` sink): ``result`` ends the task (or,
    with ``asyncComplete``, leaves it IN_PROGRESS), and the event goes to the outbox in the same decision."""

    result: TaskResult
    event: str
    payload: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class TaskStatusByRef:
    """``POST /api/tasks/{workflowId}/{ref}/{status}``: complete the pending task with that reference name."""

    reference_task_name: str
    status: TaskResultStatus
    output: dict[str, Any] = field(default_factory=dict)
    worker_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class HttpRequestReceived:
    """A request came to the path of an HTTP_ENDPOINT the run waits at: the step completes with it as its output."""

    task_id: str
    request: dict[str, Any]


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


# -- an operator's events (handled in ``engine/operations.py``) -------------------------------


@dataclass(frozen=True, kw_only=True)
class Pause:
    """``PUT /api/workflow/{id}/pause``: schedule nothing new until resumed."""


@dataclass(frozen=True, kw_only=True)
class Resume:
    """``PUT /api/workflow/{id}/resume``: back to RUNNING, and decide again."""


@dataclass(frozen=True, kw_only=True)
class Restart:
    """``POST /api/workflow/{id}/restart``: an ended run starts over, same id, its tasks removed.

    ``definition`` is the latest registered definition, resolved, when the caller
    asked for ``useLatestDefinitions``; None keeps the run's own.
    """

    definition: WorkflowDef | None = None


@dataclass(frozen=True, kw_only=True)
class Retry:
    """``POST /api/workflow/{id}/retry``: a new attempt of each failed, timed-out or cancelled step.

    The failed SUB_WORKFLOW tasks listed in ``resume_task_ids`` get no new attempt:
    they wait for their own child again, which is retried in turn (``resumeSubworkflowTasks``).
    ``notify_parent`` False when the retry comes from the parent itself (it already waits).
    """

    resume_task_ids: frozenset[str] = frozenset()
    notify_parent: bool = True


@dataclass(frozen=True, kw_only=True)
class Rerun:
    """``POST /api/workflow/{id}/rerun``: an ended run runs again from one task (or from the start).

    The tasks after ``from_task_id`` are removed; that task is scheduled again,
    with ``task_input`` when given. ``workflow_input`` and ``correlation_id``
    replace the run's when given.
    """

    from_task_id: str | None = None
    task_input: dict[str, Any] | None = None
    workflow_input: dict[str, Any] | None = None
    correlation_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class SkipTask:
    """``PUT /api/workflow/{id}/skiptask/{ref}``: the step becomes SKIPPED (now, or when it is reached)."""

    reference_task_name: str
    task_input: dict[str, Any] = field(default_factory=dict)
    task_output: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class UpdateVariables:
    """``POST /api/workflow/{id}/variables``: merge these into the run's variables."""

    variables: dict[str, Any]
    append_array: bool = False
    """Append to a variable that holds a list instead of replacing it (an event handler's ``appendArray``)."""
    merge_variables: MergeVariables | None = None
    """Variables computed from the run this decision locks, merged in after ``variables`` (a change that depends
    on what the run holds, such as one document's decision in a context's list)."""


@dataclass(frozen=True, kw_only=True)
class Decide:
    """``PUT /api/workflow/decide/{id}``: advance the run as far as it goes now."""


OperatorEvent = Pause | Resume | Restart | Retry | Rerun | SkipTask | UpdateVariables | Decide
OPERATOR_EVENTS = (Pause, Resume, Restart, Retry, Rerun, SkipTask, UpdateVariables, Decide)


# -- what another run's signal asks of this one (also handled in ``engine/operations.py``) ---------


@dataclass(frozen=True, kw_only=True)
class ChildRetried:
    """A sub-workflow of this run was retried, restarted or rerun: its ended SUB_WORKFLOW task waits for it again.

    ``operation`` (``retried``, ``restarted``, ``reran``) words the task's log line.
    """

    task_id: str
    sub_workflow_id: str
    operation: str = "retried"


@dataclass(frozen=True, kw_only=True)
class FailureWorkflowNotStarted:
    """The failure workflow this run recorded under ``failure_workflow_id`` could not be started."""

    failure_workflow_id: str
    name: str
    reason: str


LinkedRunEvent = ChildRetried | FailureWorkflowNotStarted

Event = (
    TaskResultReceived
    | EventPublished
    | TaskStatusByRef
    | HttpRequestReceived
    | TimerFired
    | RunTimerFired
    | Terminate
    | OperatorEvent
    | LinkedRunEvent
)
