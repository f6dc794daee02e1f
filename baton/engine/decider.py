"""The decider: pure functions from a run's recorded state (and one event) to its next state.

``start`` makes a new run's first decision; ``apply`` applies one event, each
kind in its own ``_apply_<kind>`` handler, then ``_decide`` advances the run:
it walks the definition's task list from the top, scheduling the next step of
each list once the step before it succeeded, running system tasks inline until
nothing more can be done, retrying failed attempts, and ending the run when its
list is done or a step failed for good. The walk is recursive (a SWITCH's chosen
case is a child list), the shape forks and loops will reuse.

No I/O, no clock reads (``ctx.now`` and ``ctx.new_id`` come in), and never an
exception for a bad event: it is refused with ``Decision.refusal``. The
caller's run and tasks are never mutated; changed tasks are new structs.

Where Conductor leaves room, Baton chooses (and the tests pin):

* A step that fails for good with ``optional: true`` becomes COMPLETED_WITH_ERRORS
  (after its retries, as in Conductor) and the run goes on.
* A run whose step fails for good ends FAILED, or TIMED_OUT when the last attempt
  timed out (Conductor's mapping); ``reasonForIncompletion`` is the task's reason.
* Retry delays follow Conductor: FIXED ``retryDelaySeconds``; LINEAR_BACKOFF
  ``retryDelaySeconds * backoffScaleFactor * (retryCount + 1)``; EXPONENTIAL_BACKOFF
  ``retryDelaySeconds * 2**retryCount``, where ``retryCount`` is the failed attempt's.
* System tasks are not retried unless their step carries a task definition
  (or ``retryCount``): a script error fails the run at once.
* A worker's result for an IN_PROGRESS task whose lease has run out is refused
  (conflict), even before the lease timer fired: the task is retried instead.
* Timeouts (``timeoutSeconds``, ``pollTimeoutSeconds``, ``totalTimeoutSeconds``,
  the run's ``timeoutSeconds``) follow ``engine/timeouts.py``; a task's timeout is
  checked before its lease or wake-up when its timer fires.
* A timer for a finished task or run is refused as a conflict, so nothing is
  written. A timer that fires before anything of its task is due (the lease was
  extended meanwhile, or a PostgreSQL claim left the poll deadline in the timer
  row) rewrites the task as it is, so the store derives its timer row again.
* ``startDelay`` delays server-run tasks too: the task waits SCHEDULED, on a
  timer, and runs when the delay is over.
* ``TaskStatusByRef`` with IN_PROGRESS merges the output and leaves the task's
  status and lease alone.
* A retry keeps the failed attempt's input (nothing it reads can have changed in a
  sequential list); its ``callbackAfterSeconds`` is the retry delay.
* A step whose type is neither SIMPLE nor a system type is a worker task polled
  under its type; SIMPLE steps under their name.
* HTTP, EVENT, SUB_WORKFLOW and START_WORKFLOW steps are queued under their type
  like worker tasks, with a lease of ``ctx.server_task_lease_seconds``, and run by
  the server's executors (``baton.runtime.executors``). Their lease running out means
  the server running them died: the same attempt goes back to the queue (no retry is
  spent). An IN_PROGRESS report keeps them IN_PROGRESS (a SUB_WORKFLOW waiting for its
  child), with no lease unless ``extendLease``.
* A run that ends writes ``Decision.signals`` (the outbox): its parent's SUB_WORKFLOW task
  gets the result (CHILD_ENDED), its running children are terminated (TERMINATE_CHILD),
  and, when it ends FAILED or TIMED_OUT, its ``failureWorkflow`` is started
  (START_FAILURE_WORKFLOW) under an id chosen here and recorded at once in the run's
  output as ``conductor.failure_workflow`` (as Conductor does).
* The ``Terminate`` event leaves the run's output as it was; a TERMINATE task sets it
  to ``workflowOutput``; a run that completes or fails gets its ``outputParameters``
  resolved (or, without them, the last task's output).
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final

import msgspec

from baton.engine import system_tasks, timeouts
from baton.engine.decision import DecideContext, Decision, Refusal, Signal, SignalKind
from baton.engine.events import Event, RunTimerFired, TaskResultReceived, TaskStatusByRef, Terminate, TimerFired
from baton.engine.expressions import RunDocument, resolve
from baton.model import (
    SERVER_QUEUED_TASK_TYPES,
    SYSTEM_TASK_TYPES,
    RetryLogic,
    Task,
    TaskResultStatus,
    TaskStatus,
    TaskType,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
    WorkflowTask,
    task_def_for,
)

MAX_INLINE_STEPS: Final = 2000
"""Tasks one decision may schedule or run inline before it stops the run as runaway."""

_MAX_RETRY_DELAY_SECONDS: Final = 2**31 - 1

_replace = msgspec.structs.replace

_SIMPLE: Final = TaskType.SIMPLE.value
_SWITCH_TYPES: Final = frozenset({TaskType.SWITCH.value, TaskType.DECISION.value})
_RETRIABLE: Final = frozenset({TaskStatus.FAILED, TaskStatus.TIMED_OUT})
_PENDING: Final = frozenset({TaskStatus.SCHEDULED, TaskStatus.IN_PROGRESS})
_SUCCESSFUL: Final = frozenset(s for s in TaskStatus if s.is_successful)
_RUNNING: Final = WorkflowStatus.RUNNING
_SUB_WORKFLOW: Final = TaskType.SUB_WORKFLOW.value
_FAILURE_WORKFLOW_OUTPUT: Final = "conductor.failure_workflow"
_TRIGGERS_FAILURE_WORKFLOW: Final = frozenset({WorkflowStatus.FAILED, WorkflowStatus.TIMED_OUT})
_FAILED_TASK: Final = frozenset({TaskStatus.FAILED, TaskStatus.FAILED_WITH_TERMINAL_ERROR, TaskStatus.TIMED_OUT})


class _Progress(Enum):
    DONE = "done"
    """Every step of the list succeeded."""
    BLOCKED = "blocked"
    """A step waits for a worker, a timer or a signal."""
    STOPPED = "stopped"
    """The run ended (or cannot advance now)."""


class _State:
    """One decision's working copy of a run: the header, the task list and what changed."""

    __slots__ = (
        "alerts",
        "created",
        "ctx",
        "definition",
        "doc",
        "latest",
        "limits",
        "max_seq",
        "now",
        "position",
        "run",
        "signals",
        "steps",
        "tasks",
        "updated",
    )

    def __init__(self, definition: WorkflowDef, run: Workflow, ctx: DecideContext) -> None:
        self.definition = definition
        self.ctx = ctx
        self.now = ctx.now
        self.run = run
        self.tasks: list[Task] = list(run.tasks)
        self.position: dict[str, int] = {}
        self.latest: dict[str, Task] = {}
        self.max_seq = 0
        for index, task in enumerate(self.tasks):
            self.position[task.task_id] = index
            ref = task.reference_task_name
            seen = self.latest.get(ref)
            if seen is None or _attempt(task) > _attempt(seen):
                self.latest[ref] = task
            if task.seq > self.max_seq:
                self.max_seq = task.seq
        self.created: dict[str, None] = {}
        self.updated: dict[str, None] = {}
        self.alerts: list[str] = []
        self.steps = 0
        self.signals: list[Signal] = []
        self.limits = system_tasks.Limits(
            script_timeout_ms=ctx.script_timeout_ms, script_memory_bytes=ctx.script_memory_bytes
        )
        self.doc = RunDocument(run, self.latest, schema_version=definition.schema_version)

    # -- reading ---------------------------------------------------------------

    def task(self, task_id: str) -> Task | None:
        index = self.position.get(task_id)
        return None if index is None else self.tasks[index]

    @property
    def running(self) -> bool:
        return self.run.status is _RUNNING

    # -- writing ---------------------------------------------------------------

    def put(self, task: Task) -> None:
        """Replace an existing task (by id) with its new state."""
        index = self.position[task.task_id]
        self.tasks[index] = task
        ref = task.reference_task_name
        latest = self.latest.get(ref)
        if latest is not None and latest.task_id == task.task_id:
            self.latest[ref] = task
        if task.task_id not in self.created:
            self.updated[task.task_id] = None

    def add(self, task: Task) -> None:
        self.position[task.task_id] = len(self.tasks)
        self.tasks.append(task)
        self.latest[task.reference_task_name] = task
        self.created[task.task_id] = None
        self.max_seq = max(self.max_seq, task.seq)

    def set_run(self, **changes: Any) -> None:
        self.run = _replace(self.run, **changes)
        self.doc.workflow = self.run

    def decision(self) -> Decision:
        tasks, position = self.tasks, self.position
        return Decision(
            workflow=_replace(self.run, update_time=self.now, tasks=tasks),
            created=[tasks[position[task_id]] for task_id in self.created],
            updated=[tasks[position[task_id]] for task_id in self.updated],
            alerts=self.alerts,
            signals=self.signals,
        )


def _attempt(task: Task) -> tuple[int, int, int]:
    """Orders a reference name's attempts: loop iteration, then retry, then creation."""
    return (task.iteration, task.retry_count, task.seq)


def _is_worker(task: Task) -> bool:
    return task.task_type not in SYSTEM_TASK_TYPES


def _is_queued(task: Task) -> bool:
    """Handed out from the queue with a lease: a worker task, or one the server's executors run."""
    return task.is_queued_task


def _refuse(run: Workflow, kind: str, message: str) -> Decision:
    return Decision(workflow=run, refusal=Refusal(kind=kind, message=message))


# -- entry points ----------------------------------------------------------------


def start(definition: WorkflowDef, run: Workflow, ctx: DecideContext) -> Decision:
    """The first decision of a new run: schedule (and run, for inline system tasks) its first steps.

    ``run`` is the new run's header as the service made it (id, name, version,
    input, correlation id, priority). Its input gets the definition's
    ``inputTemplate`` defaults and its variables the definition's initial ones.
    """
    now = ctx.now
    changes: dict[str, Any] = {
        "create_time": run.create_time or now,
        "start_time": run.start_time or now,
    }
    if definition.input_template:
        changes["input"] = {**definition.input_template, **run.input}
    if definition.variables:
        changes["variables"] = {**definition.variables, **run.variables}
    state = _State(definition, _replace(run, **changes), ctx)
    _decide(state)
    return state.decision()


def apply(definition: WorkflowDef, run: Workflow, event: Event, ctx: DecideContext) -> Decision:
    """Apply one event to a run, then decide what follows. Never raises for a bad event: refuses it."""
    if isinstance(event, TaskResultReceived):
        return _apply_task_result(definition, run, event, ctx)
    if isinstance(event, TaskStatusByRef):
        return _apply_task_status_by_ref(definition, run, event, ctx)
    if isinstance(event, TimerFired):
        return _apply_timer_fired(definition, run, event, ctx)
    if isinstance(event, RunTimerFired):
        return _apply_run_timer_fired(definition, run, event, ctx)
    if isinstance(event, Terminate):
        return _apply_terminate(definition, run, event, ctx)
    return _refuse(run, "conflict", f"Unknown event {type(event).__name__}")


# -- event handlers --------------------------------------------------------------


def _apply_task_result(
    definition: WorkflowDef, run: Workflow, event: TaskResultReceived, ctx: DecideContext
) -> Decision:
    result = event.result
    task = _find_task(run, result.task_id)
    if task is None:
        return _refuse(run, "not_found", f"Task {result.task_id} not found in workflow {run.workflow_id}")
    if task.status.is_terminal:
        return _refuse(run, "conflict", f"Task {task.task_id} is already {task.status.value}")
    if run.status.is_terminal:
        return _refuse(run, "conflict", f"Workflow {run.workflow_id} is {run.status.value}")
    if _is_queued(task) and task.status is TaskStatus.IN_PROGRESS and 0 < task.lease_expires_at <= ctx.now:
        return _refuse(
            run,
            "conflict",
            f"Task {task.task_id} timed out: its lease expired at {task.lease_expires_at}",
        )
    state = _State(definition, run, ctx)
    _record_result(
        state,
        task,
        result.status,
        result.output_data,
        worker_id=result.worker_id,
        reason=result.reason_for_incompletion,
        callback_after_seconds=result.callback_after_seconds,
        extend_lease=result.extend_lease,
        sub_workflow_id=result.sub_workflow_id,
    )
    return _finish(state)


def _apply_task_status_by_ref(
    definition: WorkflowDef, run: Workflow, event: TaskStatusByRef, ctx: DecideContext
) -> Decision:
    if run.status.is_terminal:
        return _refuse(run, "conflict", f"Workflow {run.workflow_id} is {run.status.value}")
    ref = event.reference_task_name
    pending: Task | None = None
    for task in run.tasks:
        if (
            task.reference_task_name == ref
            and not task.status.is_terminal
            and (pending is None or _attempt(task) > _attempt(pending))
        ):
            pending = task
    if pending is None:
        return _refuse(run, "not_found", f"No pending task with reference name {ref} in workflow {run.workflow_id}")
    state = _State(definition, run, ctx)
    if event.status is TaskResultStatus.IN_PROGRESS:
        state.put(
            _replace(
                pending,
                output_data={**pending.output_data, **event.output},
                worker_id=event.worker_id or pending.worker_id,
                update_time=ctx.now,
            )
        )
    else:
        _record_result(state, pending, event.status, event.output, worker_id=event.worker_id)
    return _finish(state)


def _apply_timer_fired(definition: WorkflowDef, run: Workflow, event: TimerFired, ctx: DecideContext) -> Decision:
    task = _find_task(run, event.task_id)
    if task is None:
        return _refuse(run, "not_found", f"Task {event.task_id} not found in workflow {run.workflow_id}")
    if run.status.is_terminal:
        return _refuse(run, "conflict", f"Workflow {run.workflow_id} is {run.status.value}")
    if task.status.is_terminal:
        return _refuse(run, "conflict", f"Timer is stale: task {task.task_id} is already {task.status.value}")
    now = ctx.now
    state = _State(definition, run, ctx)
    timeout = timeouts.task_timeout_due(task, now)
    if timeout is not None:
        if not timeout.alert_only:
            return _time_out(state, task, timeout)
        task = _replace(task, timeout_alerted_at=now)
        state.put(task)
        state.alerts.append(
            f"Task {task.task_id} ({task.reference_task_name}) of workflow {run.workflow_id}: {timeout.reason}"
        )
    if _is_queued(task):
        if task.status is TaskStatus.IN_PROGRESS and 0 < task.lease_expires_at <= now:
            if task.task_type in SERVER_QUEUED_TASK_TYPES:
                # The server running it died: the same attempt goes back to the queue.
                state.put(
                    _replace(task, status=TaskStatus.SCHEDULED, visible_at=now, update_time=now, lease_expires_at=0)
                )
                return _finish(state)
            state.put(
                _replace(
                    task,
                    status=TaskStatus.TIMED_OUT,
                    reason_for_incompletion=(
                        f"responseTimeoutSeconds ({task.response_timeout_seconds} s) elapsed without an update"
                    ),
                    end_time=now,
                    update_time=now,
                    lease_expires_at=0,
                )
            )
            return _finish(state)
    elif 0 < task.visible_at <= now:
        if task.status is TaskStatus.SCHEDULED:
            _execute(state, task)  # a delayed start or a system task's delayed retry
            return _finish(state)
        if task.task_type == TaskType.WAIT.value:
            state.put(system_tasks.completed(task, now))
            return _finish(state)
    if state.alerts:
        return state.decision()
    due = timeouts.task_timer_at(task)
    if due is None or due <= now:
        return _refuse(run, "conflict", f"Timer is stale: task {task.task_id} has no timer due")
    # Nothing is due yet: the timer row ran ahead of the task. Writing the task again re-derives the row.
    state.put(task)
    return state.decision()


def _time_out(state: _State, task: Task, timeout: timeouts.TaskTimeout) -> Decision:
    """Mark the task TIMED_OUT; then retry it (RETRY), end the run (TIME_OUT_WF), or neither (total budget)."""
    now = state.now
    timed_out = _replace(
        task,
        status=TaskStatus.TIMED_OUT,
        reason_for_incompletion=timeout.reason,
        end_time=now,
        update_time=now,
        lease_expires_at=0,
    )
    state.put(timed_out)
    if timeout.ends_run:
        _fail_run(state, timed_out)
        return state.decision()
    return _finish(state)


def _apply_run_timer_fired(
    definition: WorkflowDef, run: Workflow, event: RunTimerFired, ctx: DecideContext
) -> Decision:
    if run.status.is_terminal:
        return _refuse(run, "conflict", f"Workflow {run.workflow_id} is {run.status.value}")
    reason = timeouts.run_timeout_due(run, definition, ctx.now)
    if reason is None:
        return _refuse(run, "conflict", f"Timer is stale: workflow {run.workflow_id} has no timeout due")
    state = _State(definition, run, ctx)
    if timeouts.run_timeout_ends_run(definition):
        _end_run(state, WorkflowStatus.TIMED_OUT, reason=reason)
    else:
        state.set_run(timeout_alerted_at=ctx.now)
        state.alerts.append(f"Workflow {run.workflow_id} ({run.workflow_name}): {reason}")
    return state.decision()


def _apply_terminate(definition: WorkflowDef, run: Workflow, event: Terminate, ctx: DecideContext) -> Decision:
    if run.status.is_terminal:
        return _refuse(run, "conflict", f"Workflow {run.workflow_id} is already {run.status.value}")
    state = _State(definition, run, ctx)
    # Conductor leaves a terminated run's output as it was.
    _end_run(state, WorkflowStatus.TERMINATED, reason=event.reason, output=run.output)
    return state.decision()


def _find_task(run: Workflow, task_id: str) -> Task | None:
    for task in run.tasks:
        if task.task_id == task_id:
            return task
    return None


def _finish(state: _State) -> Decision:
    _decide(state)
    return state.decision()


def _record_result(
    state: _State,
    task: Task,
    status: TaskResultStatus,
    output: dict[str, Any],
    *,
    worker_id: str | None = None,
    reason: str | None = None,
    callback_after_seconds: int = 0,
    extend_lease: bool = False,
    sub_workflow_id: str | None = None,
) -> None:
    """A worker's (or the API's) report on a non-terminal task."""
    now = state.now
    worker = worker_id or task.worker_id
    child = sub_workflow_id or task.sub_workflow_id
    if status is TaskResultStatus.IN_PROGRESS:
        merged = {**task.output_data, **output}
        if not _is_queued(task):
            state.put(_replace(task, output_data=merged, worker_id=worker, update_time=now))
        elif task.task_type in SERVER_QUEUED_TASK_TYPES:
            lease = now + task.response_timeout_seconds * 1000 if extend_lease else 0
            state.put(
                _replace(
                    task,
                    status=TaskStatus.IN_PROGRESS,
                    output_data=merged,
                    worker_id=worker,
                    sub_workflow_id=child,
                    start_time=task.start_time or now,
                    update_time=now,
                    lease_expires_at=lease,
                )
            )
        elif extend_lease:
            lease = now + task.response_timeout_seconds * 1000 if task.response_timeout_seconds > 0 else 0
            state.put(
                _replace(
                    task,
                    status=TaskStatus.IN_PROGRESS,
                    output_data=merged,
                    worker_id=worker,
                    start_time=task.start_time or now,
                    update_time=now,
                    lease_expires_at=lease,
                )
            )
        else:
            delay = max(0, callback_after_seconds)
            state.put(
                _replace(
                    task,
                    status=TaskStatus.SCHEDULED,
                    output_data=merged,
                    worker_id=worker,
                    update_time=now,
                    callback_after_seconds=delay,
                    visible_at=now + delay * 1000,
                    lease_expires_at=0,
                )
            )
        return
    new_status = TaskStatus(status.value)
    state.put(
        _replace(
            task,
            status=new_status,
            output_data=output,
            worker_id=worker,
            sub_workflow_id=child,
            reason_for_incompletion=reason if new_status is not TaskStatus.COMPLETED else None,
            start_time=task.start_time or now,
            end_time=now,
            update_time=now,
            lease_expires_at=0,
        )
    )


# -- advancing the run -----------------------------------------------------------


def _decide(state: _State) -> None:
    """Advance the run as far as it goes now; end it when its task list is done."""
    if not state.running:
        return
    if _advance_list(state, state.definition.tasks) is _Progress.DONE and state.running:
        _end_run(state, WorkflowStatus.COMPLETED)


def _advance_list(state: _State, steps: list[WorkflowTask]) -> _Progress:
    for step in steps:
        progress = _advance_step(state, step)
        if progress is not _Progress.DONE:
            return progress
    return _Progress.DONE


def _advance_step(state: _State, step: WorkflowTask) -> _Progress:
    ref = step.task_reference_name
    while state.running:
        task = state.latest.get(ref)
        if task is None:
            if not _spend(state):
                return _Progress.STOPPED
            _schedule(state, step)
            continue
        status = task.status
        if status in _SUCCESSFUL:
            if status is TaskStatus.COMPLETED and task.task_type in _SWITCH_TYPES:
                return _advance_list(state, _case_steps(step, task))
            return _Progress.DONE
        if status in _PENDING:
            if status is TaskStatus.SCHEDULED and not _is_queued(task) and task.visible_at <= state.now:
                if not _spend(state):
                    return _Progress.STOPPED
                _execute(state, task)
                continue
            return _Progress.BLOCKED
        if _can_retry(task, state.now):
            if not _spend(state):
                return _Progress.STOPPED
            _schedule_retry(state, task)
            continue
        if step.optional:
            state.put(_replace(task, status=TaskStatus.COMPLETED_WITH_ERRORS, update_time=state.now))
            return _Progress.DONE
        _fail_run(state, task)
        return _Progress.STOPPED
    return _Progress.STOPPED


def _spend(state: _State) -> bool:
    """Count one inline step; past the limit, fail the run as runaway."""
    state.steps += 1
    if state.steps <= MAX_INLINE_STEPS:
        return True
    _end_run(
        state,
        WorkflowStatus.FAILED,
        reason=f"Decision stopped: more than {MAX_INLINE_STEPS} tasks scheduled or run inline at once",
    )
    return False


def _case_steps(step: WorkflowTask, task: Task) -> list[WorkflowTask]:
    """The chosen case's steps; an unknown or empty case takes the default (Conductor's rule)."""
    key = system_tasks.chosen_case(task)
    chosen = step.decision_cases.get(key) if key is not None else None
    return chosen or step.default_case


def _schedule(state: _State, step: WorkflowTask) -> Task:
    """Create the first attempt of a step; a system task runs at once."""
    run, now = state.run, state.now
    task_id = state.ctx.new_id()
    state.doc.task_id = task_id
    input_data = resolve(step.input_parameters, state.doc) if step.input_parameters else {}
    state.doc.task_id = None
    queued = step.type not in SYSTEM_TASK_TYPES or step.type in SERVER_QUEUED_TASK_TYPES
    if step.type in SERVER_QUEUED_TASK_TYPES:
        lease_seconds = state.ctx.server_task_lease_seconds
    else:
        lease_seconds = task_def_for(step).response_timeout_seconds if queued else 0
    delay_ms = max(0, step.start_delay) * 1000
    task = Task(
        task_id=task_id,
        task_type=step.name if step.type == _SIMPLE else step.type,
        reference_task_name=step.task_reference_name,
        workflow_instance_id=run.workflow_id,
        workflow_type=run.workflow_name,
        status=TaskStatus.SCHEDULED,
        task_def_name=step.name,
        seq=state.max_seq + 1,
        input_data=input_data,
        correlation_id=run.correlation_id,
        workflow_priority=run.priority,
        scheduled_time=now,
        update_time=now,
        start_delay_in_seconds=step.start_delay,
        response_timeout_seconds=lease_seconds,
        workflow_task=step,
        visible_at=now + delay_ms if queued or delay_ms else 0,
    )
    state.add(task)
    if not queued and not delay_ms:
        _execute(state, task)
        return state.tasks[state.position[task_id]]
    return task


def _execute(state: _State, task: Task) -> None:
    """Run a SCHEDULED system task and apply what it does to the run."""
    outcome = system_tasks.execute(task, now=state.now, variables=state.run.variables, limits=state.limits)
    state.put(outcome.task)
    if outcome.variables is not None:
        state.set_run(variables=outcome.variables)
    if outcome.termination is not None:
        ending = outcome.termination
        _end_run(state, ending.status, reason=ending.reason, output=ending.output)


def _retry_limit(task: Task) -> int:
    step = task.workflow_task
    if step is None:
        return 0
    if step.retry_count is not None:
        return step.retry_count
    if not _is_worker(task) and step.task_definition is None:
        return 0
    return task_def_for(step).retry_count


def _can_retry(task: Task, now: int) -> bool:
    return (
        task.status in _RETRIABLE
        and not task.retried
        and task.retry_count < _retry_limit(task)
        and not timeouts.retry_budget_spent(task, now)
    )


def retry_delay_seconds(task: Task) -> int:
    """How long a failed attempt waits before its retry is visible."""
    step = task.workflow_task
    if step is None:
        return 0
    task_def = task_def_for(step)
    base = max(0, task_def.retry_delay_seconds)
    attempt = task.retry_count
    if task_def.retry_logic is RetryLogic.LINEAR_BACKOFF:
        delay = base * max(1, task_def.backoff_scale_factor) * (attempt + 1)
    elif task_def.retry_logic is RetryLogic.EXPONENTIAL_BACKOFF:
        delay = base * 2 ** min(attempt, 32)
    else:
        delay = base
    return min(max(delay, base), _MAX_RETRY_DELAY_SECONDS)


def _schedule_retry(state: _State, task: Task) -> None:
    now = state.now
    delay = retry_delay_seconds(task)
    retry = _replace(
        task,
        task_id=state.ctx.new_id(),
        status=TaskStatus.SCHEDULED,
        seq=state.max_seq + 1,
        retry_count=task.retry_count + 1,
        retried_task_id=task.task_id,
        retried=False,
        poll_count=0,
        output_data={},
        reason_for_incompletion=None,
        worker_id=None,
        sub_workflow_id=None,
        scheduled_time=now,
        first_scheduled_time=task.first_scheduled_time or task.scheduled_time,
        start_time=0,
        end_time=0,
        update_time=now,
        start_delay_in_seconds=delay,
        timeout_alerted_at=0,
        callback_after_seconds=delay,
        visible_at=now + delay * 1000 if delay else (now if _is_queued(task) else 0),
        lease_expires_at=0,
        executed=False,
    )
    state.put(_replace(task, retried=True, update_time=now))
    state.add(retry)
    if not _is_queued(retry) and delay == 0:
        _execute(state, retry)


def _fail_run(state: _State, task: Task) -> None:
    status = {
        TaskStatus.TIMED_OUT: WorkflowStatus.TIMED_OUT,
        TaskStatus.CANCELED: WorkflowStatus.TERMINATED,
    }.get(task.status, WorkflowStatus.FAILED)
    reason = task.reason_for_incompletion or (
        f"Task {task.reference_task_name} ({task.task_id}) ended {task.status.value}"
    )
    run = state.run
    refs = run.failed_reference_task_names
    names = run.failed_task_names
    state.set_run(
        failed_reference_task_names=refs if task.reference_task_name in refs else [*refs, task.reference_task_name],
        failed_task_names=names if task.task_def_name in names else [*names, task.task_def_name],
    )
    _end_run(state, status, reason=reason)


def _end_run(
    state: _State,
    status: WorkflowStatus,
    *,
    reason: str | None = None,
    output: dict[str, Any] | None = None,
) -> None:
    """End the run: cancel what is still pending, set its status, output and end time; signal other runs."""
    now = state.now
    for task in state.tasks:
        if not task.status.is_terminal:
            state.put(
                _replace(
                    task,
                    status=TaskStatus.CANCELED,
                    end_time=now,
                    update_time=now,
                    lease_expires_at=0,
                )
            )
            if task.task_type == _SUB_WORKFLOW and task.sub_workflow_id:
                _signal(state, SignalKind.TERMINATE_CHILD, task.sub_workflow_id, reason=reason)
    if output is None:
        output = _run_output(state)
    run = state.run
    if run.parent_workflow_id and run.parent_workflow_task_id:
        _signal(state, SignalKind.CHILD_ENDED, run.parent_workflow_id, task_id=run.parent_workflow_task_id)
    failure_workflow = state.definition.failure_workflow
    if status in _TRIGGERS_FAILURE_WORKFLOW and failure_workflow:
        failure_run_id = state.ctx.new_id()
        output = {**output, _FAILURE_WORKFLOW_OUTPUT: failure_run_id}
        _signal(
            state,
            SignalKind.START_FAILURE_WORKFLOW,
            failure_run_id,
            task_id=_failed_task_id(state),
            name=failure_workflow,
            reason=reason,
        )
    state.set_run(
        status=status,
        output=output,
        reason_for_incompletion=reason if status is not WorkflowStatus.COMPLETED else None,
        end_time=now,
    )


def _signal(
    state: _State,
    kind: SignalKind,
    target_workflow_id: str,
    *,
    task_id: str | None = None,
    name: str | None = None,
    reason: str | None = None,
) -> None:
    state.signals.append(
        Signal(
            signal_id=state.ctx.new_id(),
            kind=kind,
            source_workflow_id=state.run.workflow_id,
            target_workflow_id=target_workflow_id,
            task_id=task_id,
            name=name,
            reason=reason,
            created_at=state.now,
        )
    )


def _failed_task_id(state: _State) -> str | None:
    """The latest task that failed, for the failure workflow's ``failureTaskId``."""
    failed: Task | None = None
    for task in state.tasks:
        if task.status in _FAILED_TASK and (failed is None or task.seq > failed.seq):
            failed = task
    return failed.task_id if failed is not None else None


def _run_output(state: _State) -> dict[str, Any]:
    """The definition's ``outputParameters`` resolved, else the last task's output (Conductor's default)."""
    if state.definition.output_parameters:
        resolved = resolve(state.definition.output_parameters, state.doc)
        return resolved if isinstance(resolved, dict) else {}
    last: Task | None = None
    for task in state.tasks:
        if last is None or task.seq > last.seq:
            last = task
    return last.output_data if last is not None else {}
