"""The decider: pure functions from a run's recorded state (and one event) to its next state.

``start`` makes a new run's first decision. Each event kind the decider handles
has its own ``_apply_<kind>`` handler, listed by event type in ``HANDLERS``
(the engine's ``apply``, in ``engine/operations.py``, dispatches through it);
a handler applies its event, then ``finish`` advances the run: it walks the
definition's task list from the top, scheduling the next step of each list once
the step before it succeeded, running system tasks inline until nothing more
can be done, retrying failed attempts, and ending the run when its list is done
or a step failed for good. The walk is recursive: a SWITCH's chosen case, each
branch of a fork (``engine/forks.py``) and each iteration of a DO_WHILE body
(``engine/loops.py``) are child lists. Inside a loop, a scope carries the
iteration suffix (``__N``) that every reference name gets.

The decision's working copy of the run is ``engine/run_state.py``'s
``RunState``; a step's attempts are made, run inline and retried by
``engine/attempts.py``; a run ends through ``engine/run_end.py``.

The walk costs what changed, not the run's size: after an event, a fork walks
only the branches that hold a changed task (the others were advanced as far as
they go by the decision that last touched them); when such a partial walk is
all that stands between the run and its end, the run is walked once in full to
confirm it (``Progress.UNKNOWN``). Handlers that change a run in other ways
(lifecycle operations) get the full walk by default.

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

from baton.engine import forks, loops, system_tasks, timeouts
from baton.engine.attempts import can_retry, execute_system_task, schedule_retry, schedule_step
from baton.engine.decision import DecideContext, Decision
from baton.engine.events import Event, RunTimerFired, TaskResultReceived, TaskStatusByRef, Terminate, TimerFired
from baton.engine.run_end import end_run, fail_run
from baton.engine.run_state import (
    TOP_SCOPE,
    AfterFork,
    Progress,
    RunState,
    Scope,
    attempt_order,
    is_queued,
    refuse,
)
from baton.model import (
    FORK_TASK_TYPE,
    SERVER_QUEUED_TASK_TYPES,
    SYSTEM_TASK_TYPES,
    Task,
    TaskExecLog,
    TaskResultStatus,
    TaskStatus,
    TaskType,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
    WorkflowTask,
)

_replace = msgspec.structs.replace

_SWITCH_TYPES: Final = frozenset({TaskType.SWITCH.value, TaskType.DECISION.value})
_FORK_STEPS: Final = frozenset({TaskType.FORK_JOIN.value, TaskType.FORK_JOIN_DYNAMIC.value})
_DO_WHILE: Final = TaskType.DO_WHILE.value
_JOIN: Final = TaskType.JOIN.value
_PENDING: Final = frozenset({TaskStatus.SCHEDULED, TaskStatus.IN_PROGRESS})
_SUCCESSFUL: Final = frozenset(s for s in TaskStatus if s.is_successful)

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
    _decide(state)
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
        return refuse(run, "conflict", f"Task {task.task_id} is already {task.status.value}")
    if run.status.is_terminal:
        return refuse(run, "conflict", f"Workflow {run.workflow_id} is {run.status.value}")
    if is_queued(task) and task.status is TaskStatus.IN_PROGRESS and 0 < task.lease_expires_at <= ctx.now:
        return refuse(
            run,
            "conflict",
            f"Task {task.task_id} timed out: its lease expired at {task.lease_expires_at}",
        )
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
    decision = finish(state, focused=True)
    if result.logs:
        decision.logs = [
            TaskExecLog(log=log.log, task_id=result.task_id, created_time=log.created_time or ctx.now)
            for log in result.logs
        ]
    return decision


def _apply_task_status_by_ref(
    definition: WorkflowDef, run: Workflow, event: TaskStatusByRef, ctx: DecideContext
) -> Decision:
    if run.status.is_terminal:
        return refuse(run, "conflict", f"Workflow {run.workflow_id} is {run.status.value}")
    ref = event.reference_task_name
    pending = _pending_by_ref(run, ref)
    if pending is None:
        return refuse(run, "not_found", f"No pending task with reference name {ref} in workflow {run.workflow_id}")
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
    return finish(state, focused=True)


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
                return finish(state)
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
            return finish(state)
    elif 0 < task.visible_at <= now:
        if task.status is TaskStatus.SCHEDULED:
            execute_system_task(state, task)  # a delayed start or a system task's delayed retry
            return finish(state)
        if task.task_type == TaskType.WAIT.value:
            state.put(system_tasks.completed(task, now))
            return finish(state)
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
    return finish(state)


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
    TaskStatusByRef: _apply_task_status_by_ref,
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


def _find_task(run: Workflow, task_id: str) -> Task | None:
    for task in run.tasks:
        if task.task_id == task_id:
            return task
    return None


def finish(state: RunState, *, focused: bool = False) -> Decision:
    """Advance the run and give the decision.

    ``focused``: the event changed nothing but the tasks changed so far, so forks
    need walk only the branches holding those (see ``RunState.focus``).
    """
    if focused:
        changed = (*state.created, *state.updated)
        tasks, position = state.tasks, state.position
        state.focus = _with_dynamic_anchors(
            state, {tasks[position[task_id]].reference_task_name for task_id in changed}
        )
    _decide(state)
    return state.decision()


def _with_dynamic_anchors(state: RunState, refs: set[str]) -> set[str]:
    """Add, for each changed task a dynamic fork made, that fork's own reference name, so the forks and
    loops around it know which of their branches to walk (the definition does not name such tasks)."""
    known = forks.definition_refs(state.definition)
    strangers = {ref for ref in refs if loops.base_ref(ref) not in known}
    focus = {loops.base_ref(ref) for ref in refs}
    dynamic_steps = forks.dynamic_fork_refs(state.definition)
    while strangers and dynamic_steps:
        anchors: set[str] = set()
        for ref in strangers:
            suffix = ref[len(loops.base_ref(ref)) :]
            for step_ref in dynamic_steps:
                fork = state.latest.get(step_ref + suffix)
                if fork is not None and loops.base_ref(ref) in forks.dynamic_branches(fork).owner:
                    anchors.add(fork.reference_task_name)
        strangers = {ref for ref in anchors if loops.base_ref(ref) not in known} - strangers
        focus |= {loops.base_ref(ref) for ref in anchors}
    return focus


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


def _decide(state: RunState) -> None:
    """Advance the run as far as it goes now; end it when its task list is done."""
    if not state.running:
        return
    progress = _advance_list(state, state.definition.tasks, TOP_SCOPE)
    if progress is Progress.UNKNOWN:
        progress = _advance_list_fully(state, state.definition.tasks, TOP_SCOPE)
    if progress is Progress.DONE and state.running:
        end_run(state, WorkflowStatus.COMPLETED)


def _advance_list_fully(state: RunState, steps: list[WorkflowTask], scope: Scope) -> Progress:
    """Walk a list whose partial walk could not tell whether it is done, every branch of it this time."""
    focus, state.focus = state.focus, None
    try:
        return _advance_list(state, steps, scope) if state.running else Progress.STOPPED
    finally:
        state.focus = focus


def _advance_list(state: RunState, steps: list[WorkflowTask], scope: Scope) -> Progress:
    """Advance one list. A fork does not hold up the steps after it: its JOIN decides when they go on."""
    result = Progress.DONE
    after_fork: AfterFork = None
    for step in steps:
        progress = _advance_step(state, step, scope, after_fork)
        if progress is Progress.STOPPED:
            return progress
        if step.type in _FORK_STEPS:
            result = max(result, progress)
            after_fork = (step, progress)
            continue
        if progress is not Progress.DONE:
            return max(result, progress)
        after_fork = None
    return result


def _advance_step(state: RunState, step: WorkflowTask, scope: Scope, after_fork: AfterFork) -> Progress:
    ref = step.task_reference_name + scope.suffix
    while state.running:
        task = state.latest.get(ref)
        if task is None:
            if step.type in SYSTEM_TASK_TYPES and not _spend(state):
                return Progress.STOPPED
            schedule_step(state, step, scope, after_fork)
            continue
        status = task.status
        if status in _SUCCESSFUL:
            if status is TaskStatus.COMPLETED and task.task_type in _SWITCH_TYPES:
                return _advance_list(state, _case_steps(step, task), scope)
            if status is TaskStatus.COMPLETED and task.task_type == FORK_TASK_TYPE:
                return _advance_fork(state, step, task, scope)
            return Progress.DONE
        if status in _PENDING:
            if task.task_type == _DO_WHILE and status is TaskStatus.IN_PROGRESS:
                progress = _advance_loop(state, step, task, scope)
                if progress is None:
                    continue  # the loop task ended: look at it again
                return progress
            if task.task_type == _JOIN and status is TaskStatus.IN_PROGRESS:
                return _check_join(state, task, after_fork)
            if status is TaskStatus.SCHEDULED and not is_queued(task) and task.visible_at <= state.now:
                if not _spend(state):
                    return Progress.STOPPED
                execute_system_task(state, task)
                continue
            return Progress.BLOCKED
        if can_retry(task, state.now):
            if not _spend(state):
                return Progress.STOPPED
            schedule_retry(state, task)
            continue
        if step.optional:
            state.put(_replace(task, status=TaskStatus.COMPLETED_WITH_ERRORS, update_time=state.now))
            return Progress.DONE
        fail_run(state, task)
        return Progress.STOPPED
    return Progress.STOPPED


# -- forks and joins -------------------------------------------------------------


def _advance_fork(state: RunState, step: WorkflowTask, fork: Task, scope: Scope) -> Progress:
    """Advance the branches of a fork whose FORK task completed; only those the event touched, when known."""
    branches = forks.dynamic_branches(fork) if step.type == TaskType.FORK_JOIN_DYNAMIC else forks.static_branches(step)
    lists = branches.lists
    focus = state.focus
    if focus is None or fork.task_id in state.created:
        chosen: list[int] | range = range(len(lists))
    else:
        chosen = sorted(forks.owning_branches(branches, focus))
    result = Progress.DONE
    for index in chosen:
        progress = _advance_list(state, lists[index], scope)
        if progress is Progress.UNKNOWN:
            progress = _advance_list_fully(state, lists[index], scope)
        if progress is Progress.STOPPED:
            return progress
        result = max(result, progress)
    if len(chosen) < len(lists):
        result = max(result, Progress.UNKNOWN)
    return result


def _check_join(state: RunState, join: Task, after_fork: AfterFork) -> Progress:
    branches_done = after_fork is not None and after_fork[1] is Progress.DONE
    output = forks.join_result(join, state.latest, branches_done)
    if output is None:
        # Waiting only on tasks that never ran? Then a full walk may find every branch done.
        partly_walked = after_fork is not None and after_fork[1] is Progress.UNKNOWN
        if partly_walked and forks.join_result(join, state.latest, branches_done=True) is not None:
            return Progress.UNKNOWN
        return Progress.BLOCKED
    state.put(system_tasks.completed(join, state.now, output))
    return Progress.DONE


# -- loops -----------------------------------------------------------------------


def _advance_loop(state: RunState, step: WorkflowTask, loop: Task, scope: Scope) -> Progress | None:
    """Run the current iteration's body; when it is done, decide on the next. None: the loop task ended."""
    items, _ = loops.items_of(step, loop.input_data)
    now = state.now
    while state.running:
        iteration = loop.iteration
        inner = Scope(suffix=loops.iteration_suffix(scope.suffix, iteration), iteration=iteration)
        progress = _advance_list(state, step.loop_over, inner)
        if progress is Progress.UNKNOWN:
            progress = _advance_list_fully(state, step.loop_over, inner)
        if progress is not Progress.DONE:
            return progress
        finished = loops.iteration_outputs(step.loop_over, inner.suffix, state.latest)
        output = {**loop.output_data, str(iteration): finished, loops.ITERATION: iteration}
        go_on, error = loops.goes_on(step, loop, output, finished, items, state.limits)
        if error is not None:
            ended = system_tasks.failed(loop, now, error, output)
            state.put(_replace(ended, status=TaskStatus.FAILED_WITH_TERMINAL_ERROR))
            return None
        keep = loops.keep_last(loop.input_data)
        if keep is not None and iteration - keep >= 1:
            output.pop(str(iteration - keep), None)
            _forget_iteration(state, step, scope, iteration - keep)
        if not go_on:
            state.put(system_tasks.completed(loop, now, output))
            return None
        if not _spend(state):
            return Progress.STOPPED
        following = iteration + 1
        if following > state.ctx.max_loop_iterations:
            limit = state.ctx.max_loop_iterations
            error = f"{system_tasks.label(loop)} exceeded max_loop_iterations ({limit})"
            state.put(
                _replace(system_tasks.failed(loop, now, error, output), status=TaskStatus.FAILED_WITH_TERMINAL_ERROR)
            )
            return None
        loop = _replace(
            loop,
            iteration=following,
            output_data={**output, loops.ITERATION: following, **loops.item_fields(items, following)},
            update_time=now,
        )
        state.put(loop)
    return Progress.STOPPED


def _forget_iteration(state: RunState, step: WorkflowTask, scope: Scope, iteration: int) -> None:
    """Remove the tasks of one finished iteration of this loop (``keepLastN``)."""
    marker = loops.iteration_suffix(scope.suffix, iteration)
    body = set(forks.subtree_refs(step.loop_over))
    for task in state.live_tasks():
        ref = task.reference_task_name
        if task.iteration == 0 or loops.base_ref(ref) not in body:
            continue
        rest = ref[len(loops.base_ref(ref)) :]
        if rest == marker or rest.startswith(marker + "__"):
            state.remove(task)


def _spend(state: RunState) -> bool:
    """Count one inline step; past the limit, fail the run as runaway."""
    state.steps += 1
    limit = state.ctx.max_steps_per_decision
    if state.steps <= limit:
        return True
    end_run(
        state,
        WorkflowStatus.FAILED,
        reason=f"Decision stopped: more than {limit} tasks scheduled or run inline at once (max_steps_per_decision)",
    )
    return False


def _case_steps(step: WorkflowTask, task: Task) -> list[WorkflowTask]:
    """The chosen case's steps; an unknown or empty case takes the default (Conductor's rule)."""
    key = system_tasks.chosen_case(task)
    chosen = step.decision_cases.get(key) if key is not None else None
    return chosen or step.default_case
