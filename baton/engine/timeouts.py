"""Task and run timeouts: when each comes due, and what came due, as pure functions.

The store derives a task's timer row from ``task_timer_at`` and a run's from
``run_timer_at``; the decider's timer handlers ask ``task_timeout_due`` and
``run_timeout_due`` what is due. One rule serves both, so a timer row and the
decision it triggers never disagree about what the time is for.

Conductor's rules (``DeciderService``), and where Baton chooses:

* TaskDef ``timeoutSeconds``: a task not finished ``timeoutSeconds`` after its
  first start plus its ``startDelayInSeconds`` times out (Conductor's code adds
  the delay too). The first start is the first poll: later polls (after an
  IN_PROGRESS result with ``callbackAfterSeconds``) keep it. A server-run task
  starts when it runs.
* ``pollTimeoutSeconds``: a queued task not polled within ``pollTimeoutSeconds``
  of becoming visible (its scheduled time plus its start delay, or its retry
  delay) times out. Conductor counts a retry's delay twice here; Baton once.
* ``timeoutPolicy`` for both: RETRY marks the task TIMED_OUT and retries it per
  ``retryCount``; TIME_OUT_WF marks it TIMED_OUT and ends the run TIMED_OUT,
  whatever its retries or ``optional`` say; ALERT_ONLY changes nothing but the
  task's ``timeoutAlertedAt`` (so the alert is raised once) and the decision's
  ``alerts``, which the sweeper logs.
* ``totalTimeoutSeconds``: a budget across all the attempts of a step, counted
  from when its first attempt was scheduled. When it runs out, the attempt under
  way (or waiting for its retry delay) times out and is not retried, whatever
  ``timeoutPolicy`` says; then the step is ``optional`` or the run ends TIMED_OUT.
  A failure after the budget ran out is not retried either.
* ``responseTimeoutSeconds`` is the worker's lease (``leaseExpiresAt``): always
  TIMED_OUT and retried per ``retryCount``, as in Conductor.
* Server-run tasks have timeouts only when their step carries a ``taskDefinition``.
* WorkflowDef ``timeoutSeconds`` counts from the run's ``lastRetriedTime``, else
  its ``createTime``, while it is RUNNING or PAUSED. TIME_OUT_WF ends the run
  TIMED_OUT and cancels its pending tasks; ALERT_ONLY (the default) records
  ``timeoutAlertedAt`` on the run and raises an alert once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from baton.model import (
    Task,
    TaskDef,
    TaskStatus,
    TaskTimeoutPolicy,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
    WorkflowTimeoutPolicy,
)

_TIMED_RUN_STATUSES = frozenset({WorkflowStatus.RUNNING, WorkflowStatus.PAUSED})


class TimeoutKind(Enum):
    TOTAL = "totalTimeoutSeconds"
    TASK = "timeoutSeconds"
    POLL = "pollTimeoutSeconds"


@dataclass(frozen=True, slots=True)
class TaskTimeout:
    """A timeout that came due on a task: which one, the policy it follows, and the task's reason."""

    kind: TimeoutKind
    policy: TaskTimeoutPolicy
    reason: str

    @property
    def alert_only(self) -> bool:
        return self.kind is not TimeoutKind.TOTAL and self.policy is TaskTimeoutPolicy.ALERT_ONLY

    @property
    def ends_run(self) -> bool:
        return self.kind is not TimeoutKind.TOTAL and self.policy is TaskTimeoutPolicy.TIME_OUT_WF


def _settings(task: Task) -> TaskDef | None:
    step = task.workflow_task
    return None if step is None else step.task_definition


def _total_deadline(task: Task, settings: TaskDef) -> int | None:
    seconds = settings.total_timeout_seconds
    if not seconds or seconds <= 0:
        return None
    return (task.first_scheduled_time or task.scheduled_time) + seconds * 1000


def _task_deadline(task: Task, settings: TaskDef) -> int | None:
    if settings.timeout_seconds <= 0 or task.start_time <= 0:
        return None
    deadline = task.start_time + (task.start_delay_in_seconds + settings.timeout_seconds) * 1000
    return deadline if deadline > task.timeout_alerted_at else None


def _poll_deadline(task: Task, settings: TaskDef) -> int | None:
    seconds = settings.poll_timeout_seconds
    if not seconds or seconds <= 0 or task.status is not TaskStatus.SCHEDULED or task.poll_count > 0:
        return None
    if not task.is_queued_task:
        return None
    deadline = task.visible_at + seconds * 1000
    return deadline if deadline > task.timeout_alerted_at else None


def task_timer_at(task: Task) -> int | None:
    """When something of the task comes due: its lease, its wake-up, or one of its timeouts; None for nothing."""
    status = task.status
    if status.is_terminal:
        return None
    due: int | None = None
    if task.is_queued_task:
        if status is TaskStatus.IN_PROGRESS and task.lease_expires_at > 0:
            due = task.lease_expires_at
    elif task.visible_at > 0:
        due = task.visible_at
    settings = _settings(task)
    if settings is None:
        return due
    for deadline in (
        _total_deadline(task, settings),
        _task_deadline(task, settings),
        _poll_deadline(task, settings),
    ):
        if deadline is not None and (due is None or deadline < due):
            due = deadline
    return due


def task_timeout_due(task: Task, now: int) -> TaskTimeout | None:
    """The timeout of a pending task that is due at ``now`` (the total budget first), or None."""
    if task.status.is_terminal:
        return None
    settings = _settings(task)
    if settings is None:
        return None
    policy = settings.timeout_policy
    total = _total_deadline(task, settings)
    if total is not None and total <= now:
        return TaskTimeout(
            kind=TimeoutKind.TOTAL,
            policy=policy,
            reason=f"Task exceeded its totalTimeoutSeconds ({settings.total_timeout_seconds} s) across its attempts",
        )
    deadline = _task_deadline(task, settings)
    if deadline is not None and deadline <= now:
        elapsed = (now - task.start_time) // 1000
        return TaskTimeout(
            kind=TimeoutKind.TASK,
            policy=policy,
            reason=(
                f"Task timed out after {elapsed} seconds. Timeout configured as {settings.timeout_seconds} seconds. "
                f"Timeout policy configured to {policy.value}"
            ),
        )
    deadline = _poll_deadline(task, settings)
    if deadline is not None and deadline <= now:
        elapsed = (now - task.visible_at) // 1000
        return TaskTimeout(
            kind=TimeoutKind.POLL,
            policy=policy,
            reason=(
                f"Task poll timed out after {elapsed} seconds. Poll timeout configured as "
                f"{settings.poll_timeout_seconds} seconds. Timeout policy configured to {policy.value}"
            ),
        )
    return None


def retry_budget_spent(task: Task, now: int) -> bool:
    """True once the step's ``totalTimeoutSeconds`` has run out: no more retries."""
    settings = _settings(task)
    if settings is None:
        return False
    total = _total_deadline(task, settings)
    return total is not None and total <= now


def _run_deadline(run: Workflow, definition: WorkflowDef) -> int | None:
    if definition.timeout_seconds <= 0 or run.status not in _TIMED_RUN_STATUSES:
        return None
    deadline = (run.last_retried_time or run.create_time) + definition.timeout_seconds * 1000
    return deadline if deadline > run.timeout_alerted_at else None


def run_timer_at(run: Workflow, definition: WorkflowDef) -> int | None:
    """When the run's own timeout comes due; None when it has none (or it ended, or its alert was raised)."""
    return _run_deadline(run, definition)


def run_timeout_due(run: Workflow, definition: WorkflowDef, now: int) -> str | None:
    """The run's ``reasonForIncompletion`` when its timeout is due at ``now``, else None."""
    deadline = _run_deadline(run, definition)
    if deadline is None or deadline > now:
        return None
    elapsed = (now - (run.last_retried_time or run.create_time)) // 1000
    return (
        f"Workflow timed out after {elapsed} seconds. Timeout configured as {definition.timeout_seconds} seconds. "
        f"Timeout policy configured to {definition.timeout_policy.value}"
    )


def run_timeout_ends_run(definition: WorkflowDef) -> bool:
    return definition.timeout_policy is WorkflowTimeoutPolicy.TIME_OUT_WF
