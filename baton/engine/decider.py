"""The decider: pure functions from a run's recorded state (and one event) to its next state.

``start`` makes a new run's first decision. Each event kind the decider handles
has its own ``_apply_<kind>`` handler, listed by event type in ``HANDLERS``
(the engine's ``apply``, in ``engine/operations.py``, dispatches through it);
a handler applies its event, then ``walk.finish`` (``engine/walk.py``) advances
the run as far as it goes.

The decision's working copy of the run is ``engine/run_state.py``'s
``RunState``; a step's attempts are made, run inline and retried by
``engine/attempts.py``; a run ends through ``engine/run_end.py``.

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
* A result that comes too late is ignored (``IGNORED``: not applied, answered as
  accepted, as Conductor does, and logged on the task by the service): its task
  already ended, its run already ended, or (a worker's result for an IN_PROGRESS
  task) its lease ran out, even before the lease timer fired: the task is retried
  instead. By reference, the same holds when the reference's latest attempt ended;
  a reference naming no task of the run is not found.
* With ``enforceSchema`` on a step's task definition, a COMPLETED result whose output
  breaks its ``outputSchema`` FAILS the task (retried like any failure), and an input
  that breaks its ``inputSchema`` fails the attempt with a terminal error when it is
  scheduled (``engine/schema_checks.py``).
* A task of a type Baton does not run (``UNSUPPORTED_TASK_TYPES``) fails with a
  terminal error when its step is reached.
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
* Scheduling a worker task does not count towards ``max_steps_per_decision`` (it cannot
  run away: it waits for a worker), so a dynamic fork may make thousands of them;
  system tasks and loop iterations do.
* ``POST /api/tasks/{workflowId}/{ref}/{status}`` takes a loop body task's full
  reference name (``approve__2``) or its plain one (the latest iteration's).
* A DYNAMIC step whose name parameter is missing or not a string fails, and so
  fails the run (Conductor terminates it); its task's type is the name it gives.
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
* A worker's result keeps its ``logs``: they go in ``Decision.logs`` (``createdTime``
  now when the worker gave none), so they are stored in the result's transaction.
* The ``Terminate`` event leaves the run's output as it was; a TERMINATE task sets it
  to ``workflowOutput``; a run that completes or fails gets its ``outputParameters``
  resolved (or, without them, the last task's output).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from baton.engine import http_steps, loops, system_tasks, timeouts, walk
from baton.engine.attempts import execute_system_task
from baton.engine.decision import IGNORED, DecideContext, Decision, Signal, SignalKind
from baton.engine.events import (
    Event,
    EventPublished,
    HttpRequestReceived,
    RunTimerFired,
    TaskResultReceived,
    TaskStatusByRef,
    Terminate,
    TimerFired,
)
from baton.engine.run_end import end_run, fail_run
from baton.engine.run_state import RunState, attempt_order, is_queued, refuse
from baton.engine.schema_checks import output_violation
from baton.model import (
    SERVER_QUEUED_TASK_TYPES,
    Task,
    TaskExecLog,
    TaskResultStatus,
    TaskStatus,
    TaskType,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
)

_replace = msgspec.structs.replace

EventHandler = Callable[[WorkflowDef, Workflow, Any, DecideContext], Decision]
"""Applies one kind of event to a run: ``(definition, run, event, ctx) -> Decision``, never raising."""


# -- a new run -------------------------------------------------------------------


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
    state = RunState(definition, _replace(run, **changes), ctx)
    walk.advance_run(state)
    return state.decision()


# -- event handlers --------------------------------------------------------------


def _apply_task_result(
    definition: WorkflowDef, run: Workflow, event: TaskResultReceived, ctx: DecideContext
) -> Decision:
    result = event.result
    state = RunState(definition, run, ctx)  # its index finds the task without a scan of the run
    task = state.task(result.task_id)
    if task is None:
        return refuse(run, "not_found", f"Task {result.task_id} not found in workflow {run.workflow_id}")
    if task.status.is_terminal:
        return refuse(run, IGNORED, f"Task {task.task_id} is already {task.status.value}", task)
    if run.status.is_terminal:
        return refuse(run, IGNORED, f"Workflow {run.workflow_id} is already {run.status.value}", task)
    if is_queued(task) and task.status is TaskStatus.IN_PROGRESS and 0 < task.lease_expires_at <= ctx.now:
        return refuse(
            run,
            IGNORED,
            f"Task {task.task_id} timed out: its lease (responseTimeoutSeconds) ran out at {task.lease_expires_at}",
            task,
        )
    if event.merge_variables is not None:
        state.set_run(variables={**state.run.variables, **event.merge_variables(state.run)})
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
    decision = walk.finish(state, focused=True)
    if result.logs:
        decision.logs[:0] = [
            TaskExecLog(log=log.log, task_id=result.task_id, created_time=log.created_time or ctx.now)
            for log in result.logs
        ]
    return decision


def _apply_event_published(
    definition: WorkflowDef, run: Workflow, event: EventPublished, ctx: DecideContext
) -> Decision:
    """An EVENT task's result, and its event in the outbox with it: the event is published once the task ends."""
    decision = _apply_task_result(definition, run, TaskResultReceived(result=event.result), ctx)
    if decision.refusal is None:
        decision.signals.append(
            Signal(
                signal_id=ctx.new_id(),
                kind=SignalKind.EVENT_PUBLISHED,
                source_workflow_id=run.workflow_id,
                target_workflow_id=run.workflow_id,
                task_id=event.result.task_id,
                name=event.event,
                payload=event.payload,
                created_at=ctx.now,
            )
        )
    return decision


def _apply_http_request(
    definition: WorkflowDef, run: Workflow, event: HttpRequestReceived, ctx: DecideContext
) -> Decision:
    """A request to the path of an HTTP_ENDPOINT the run waits at: the step completes with it."""
    state = RunState(definition, run, ctx)
    task = state.task(event.task_id)
    if task is None:
        return refuse(run, "not_found", f"Task {event.task_id} not found in workflow {run.workflow_id}")
    if run.status.is_terminal:
        return refuse(run, "conflict", f"Workflow {run.workflow_id} is already {run.status.value}")
    if task.task_type != http_steps.ENDPOINT or task.status is not TaskStatus.IN_PROGRESS:
        return refuse(run, "conflict", f"Task {task.task_id} ({task.reference_task_name}) is not waiting for a request")
    state.put(system_tasks.completed(task, ctx.now, http_steps.received(event.request, state.max_seq)))
    return walk.finish(state, focused=True)


def _apply_task_status_by_ref(
    definition: WorkflowDef, run: Workflow, event: TaskStatusByRef, ctx: DecideContext
) -> Decision:
    ref = event.reference_task_name
    pending = None if run.status.is_terminal else _pending_by_ref(run, ref)
    if pending is None:
        ended = _latest_by_ref(run, ref)
        if ended is None:
            return refuse(run, "not_found", f"No task with reference name {ref} in workflow {run.workflow_id}")
        if run.status.is_terminal:
            return refuse(run, IGNORED, f"Workflow {run.workflow_id} is already {run.status.value}", ended)
        return refuse(run, IGNORED, f"Task {ended.task_id} ({ref}) is already {ended.status.value}", ended)
    state = RunState(definition, run, ctx)
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
    return walk.finish(state, focused=True)


def _apply_timer_fired(definition: WorkflowDef, run: Workflow, event: TimerFired, ctx: DecideContext) -> Decision:
    task = _find_task(run, event.task_id)
    if task is None:
        return refuse(run, "not_found", f"Task {event.task_id} not found in workflow {run.workflow_id}")
    if run.status.is_terminal:
        return refuse(run, "conflict", f"Workflow {run.workflow_id} is {run.status.value}")
    if task.status.is_terminal:
        return refuse(run, "conflict", f"Timer is stale: task {task.task_id} is already {task.status.value}")
    now = ctx.now
    state = RunState(definition, run, ctx)
    timeout = timeouts.task_timeout_due(task, now)
    if timeout is not None:
        if not timeout.alert_only:
            return _time_out(state, task, timeout)
        task = _replace(task, timeout_alerted_at=now)
        state.put(task)
        state.alerts.append(
            f"Task {task.task_id} ({task.reference_task_name}) of workflow {run.workflow_id}: {timeout.reason}"
        )
    if is_queued(task):
        if task.status is TaskStatus.IN_PROGRESS and 0 < task.lease_expires_at <= now:
            if task.task_type in SERVER_QUEUED_TASK_TYPES:
                # The server running it died: the same attempt goes back to the queue.
                state.put(
                    _replace(task, status=TaskStatus.SCHEDULED, visible_at=now, update_time=now, lease_expires_at=0)
                )
                return walk.finish(state)
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
            return walk.finish(state)
    elif 0 < task.visible_at <= now:
        if task.status is TaskStatus.SCHEDULED:
            execute_system_task(state, task)  # a delayed start or a system task's delayed retry
            return walk.finish(state)
        if task.task_type == TaskType.WAIT.value:
            state.put(system_tasks.completed(task, now))
            return walk.finish(state)
    if state.alerts:
        return state.decision()
    due = timeouts.task_timer_at(task)
    if due is None or due <= now:
        return refuse(run, "conflict", f"Timer is stale: task {task.task_id} has no timer due")
    # Nothing is due yet: the timer row ran ahead of the task. Writing the task again re-derives the row.
    state.put(task)
    return state.decision()


def _time_out(state: RunState, task: Task, timeout: timeouts.TaskTimeout) -> Decision:
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
        fail_run(state, timed_out)
        return state.decision()
    return walk.finish(state)


def _apply_run_timer_fired(
    definition: WorkflowDef, run: Workflow, event: RunTimerFired, ctx: DecideContext
) -> Decision:
    if run.status.is_terminal:
        return refuse(run, "conflict", f"Workflow {run.workflow_id} is {run.status.value}")
    reason = timeouts.run_timeout_due(run, definition, ctx.now)
    if reason is None:
        return refuse(run, "conflict", f"Timer is stale: workflow {run.workflow_id} has no timeout due")
    state = RunState(definition, run, ctx)
    if timeouts.run_timeout_ends_run(definition):
        end_run(state, WorkflowStatus.TIMED_OUT, reason=reason)
    else:
        state.set_run(timeout_alerted_at=ctx.now)
        state.alerts.append(f"Workflow {run.workflow_id} ({run.workflow_name}): {reason}")
    return state.decision()


def _apply_terminate(definition: WorkflowDef, run: Workflow, event: Terminate, ctx: DecideContext) -> Decision:
    if run.status.is_terminal:
        return refuse(run, "conflict", f"Workflow {run.workflow_id} is already {run.status.value}")
    state = RunState(definition, run, ctx)
    # Conductor leaves a terminated run's output as it was.
    end_run(state, WorkflowStatus.TERMINATED, reason=event.reason, output=run.output)
    return state.decision()


HANDLERS: Final[Mapping[type[Event], EventHandler]] = {
    TaskResultReceived: _apply_task_result,
    EventPublished: _apply_event_published,
    TaskStatusByRef: _apply_task_status_by_ref,
    HttpRequestReceived: _apply_http_request,
    TimerFired: _apply_timer_fired,
    RunTimerFired: _apply_run_timer_fired,
    Terminate: _apply_terminate,
}
"""The events the decider handles, each with its handler; the operator's are in ``engine/operations.py``."""


def _pending_by_ref(run: Workflow, ref: str) -> Task | None:
    """The latest pending attempt with this reference name, or, for a loop body's plain name, its latest iteration's."""
    pending: Task | None = None
    for task in run.tasks:
        if (
            task.reference_task_name == ref
            and not task.status.is_terminal
            and (pending is None or attempt_order(task) > attempt_order(pending))
        ):
            pending = task
    if pending is not None:
        return pending
    for task in run.tasks:
        if (
            task.iteration > 0
            and not task.status.is_terminal
            and loops.base_ref(task.reference_task_name) == ref
            and (pending is None or task.seq > pending.seq)
        ):
            pending = task
    return pending


def _latest_by_ref(run: Workflow, ref: str) -> Task | None:
    """The latest attempt with this reference name (or, for a loop body's plain name, of its latest iteration)."""
    latest: Task | None = None
    for task in run.tasks:
        if (
            task.reference_task_name == ref or (task.iteration > 0 and loops.base_ref(task.reference_task_name) == ref)
        ) and (latest is None or task.seq > latest.seq):
            latest = task
    return latest


def _find_task(run: Workflow, task_id: str) -> Task | None:
    for task in run.tasks:
        if task.task_id == task_id:
            return task
    return None


def _record_result(
    state: RunState,
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
        if not is_queued(task):
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
    if new_status is TaskStatus.COMPLETED:
        violation = output_violation(state.ctx, task.workflow_task, output)
        if violation is not None:  # a failure like any other: retried per the task definition
            new_status, reason = TaskStatus.FAILED, violation
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
