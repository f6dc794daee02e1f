"""An operator's events: pause, resume, restart, retry, rerun, skip a task, set variables, decide.

``apply`` here is the engine's entry point for every event: one table maps
each event type to its handler, the operator's events' (here) and the
decider's own (``decider.HANDLERS``); an event of no kind in it is refused.
Like the decider, it does no I/O, reads no clock and never raises for a bad
event: a run in the wrong state is refused (conflict), and the message names
the state it is in.

What each does, and where Conductor leaves room, what Baton chooses:

* Pause: RUNNING -> PAUSED; pausing a PAUSED run changes nothing. A paused run
  schedules no new step: a worker's result for a step already handed out is
  recorded, and the steps after it wait for Resume. A task already queued may
  still be polled, and a system task's delayed retry still runs when its timer
  fires (neither is a new step).
* Resume: PAUSED -> RUNNING, then the run is decided again.
* Restart: only an ended run. Same id; every task is removed; the run starts
  again from its first step with its original input (the definition's
  ``inputTemplate`` defaults applied again) and the definition's initial
  variables. ``restartable: false`` refuses the restart of a COMPLETED run
  (Conductor's rule: a failed or terminated run may still be restarted). With
  the latest definition, the run's version and snapshot change to it.
* Retry: only a FAILED, TIMED_OUT or TERMINATED run. For each step whose latest
  attempt is FAILED, FAILED_WITH_TERMINAL_ERROR, TIMED_OUT or CANCELED, a new
  attempt (``retryCount + 1``, ``retriedTaskId``) is scheduled, its input
  resolved again over the failed attempt's; nothing else is re-run. No such step
  is a conflict (use restart), except for a TIMED_OUT run, which just runs on.
* Rerun: only an ended run. From a task id: the tasks after it (by ``seq``) are
  removed and that task is scheduled again (its id kept, its output cleared,
  ``taskInput`` as its input when given). Without one: as Restart, keeping the
  run's definition. ``workflowInput`` and ``correlationId`` replace the run's.
* SkipTask: only a RUNNING run. A pending attempt of the step becomes SKIPPED
  with the given output and the run goes on; a step not reached yet gets a
  SKIPPED task now, so the walk passes it when it gets there (as Conductor).
  A step that already ended is a conflict. A skipped SUB_WORKFLOW task's running
  child is terminated (TERMINATE_CHILD), as when its parent ends: nothing waits for it.
* UpdateVariables: a RUNNING or PAUSED run; the variables are merged in, and a
  running run is decided again.
* Decide: a RUNNING run is advanced; any other is refused (the service treats
  that as nothing to do, as Conductor does).

Retry with ``resume_task_ids`` (``resumeSubworkflowTasks``): each failed SUB_WORKFLOW
attempt listed goes back to IN_PROGRESS waiting for its own child (same task id,
same ``subWorkflowId``, a log line ``Sub workflow <id> retried.``) and a RETRY_CHILD
signal asks for that child to be retried; the other failed steps get new attempts.

A retry, restart or rerun of a run that is a sub-workflow writes CHILD_RETRIED to
its parent (Conductor's ``updateAndPushParents``). ``ChildRetried`` then puts the
parent's SUB_WORKFLOW task back IN_PROGRESS, only if it is still the latest attempt
of its step, is waiting for that child and ended unsuccessfully (a parent that
started another child meanwhile, or whose optional step went on, is left alone:
Conductor would reopen it regardless). An ended parent is retried around it: RUNNING
again, its other failed steps get new attempts, and its own parent is told in turn.

``FailureWorkflowNotStarted`` replaces the id an ended run recorded as
``conductor.failure_workflow`` with Conductor's ``Error workflow <name> failed to
start.  reason: <why>``, and changes nothing else.

Restart, retry and rerun clear ``reasonForIncompletion``, the failed task names
and the end time, and set ``lastRetriedTime``: the run's ``timeoutSeconds`` counts
from then. A step retried or rerun by an operator gets a fresh
``totalTimeoutSeconds`` budget.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import msgspec

from baton.engine import decider, walk
from baton.engine.attempts import next_attempt, scheduled_afresh
from baton.engine.decision import DecideContext, Decision, Signal, SignalKind
from baton.engine.events import (
    ChildRetried,
    Decide,
    Event,
    FailureWorkflowNotStarted,
    Pause,
    Rerun,
    Restart,
    Resume,
    Retry,
    SkipTask,
    UpdateVariables,
)
from baton.engine.expressions import latest_by_reference, resolve
from baton.engine.run_changes import with_change_signal
from baton.engine.run_end import FAILURE_WORKFLOW_OUTPUT
from baton.engine.run_state import SUB_WORKFLOW, RunState, attempt_order, is_worker, refuse
from baton.model import Task, TaskExecLog, TaskStatus, Workflow, WorkflowDef, WorkflowStatus, WorkflowTask

_replace = msgspec.structs.replace

_RETRIABLE: Final = frozenset(
    {TaskStatus.FAILED, TaskStatus.FAILED_WITH_TERMINAL_ERROR, TaskStatus.TIMED_OUT, TaskStatus.CANCELED}
)
_RETRYABLE_RUNS: Final = frozenset({WorkflowStatus.FAILED, WorkflowStatus.TIMED_OUT, WorkflowStatus.TERMINATED})


def apply(definition: WorkflowDef, run: Workflow, event: Event, ctx: DecideContext) -> Decision:
    """Apply one event to a run (any event: the decider's own go to its handlers in ``decider.HANDLERS``)."""
    handler = _HANDLERS.get(type(event))
    if handler is None:
        return refuse(run, "conflict", f"Unknown event {type(event).__name__}")
    return with_change_signal(run, handler(definition, run, event, ctx), ctx)


def _in_state(run: Workflow, *, expected: str = "") -> Decision:
    """The refusal for a run in the wrong state: the message names the state it is in."""
    suffix = f", not {expected}" if expected else ""
    return refuse(run, "conflict", f"Workflow {run.workflow_id} is {run.status.value}{suffix}")


# -- pause, resume, decide, variables ------------------------------------------------------


def _apply_pause(definition: WorkflowDef, run: Workflow, event: Pause, ctx: DecideContext) -> Decision:
    if run.status.is_terminal:
        return _in_state(run)
    state = RunState(definition, run, ctx)
    state.set_run(status=WorkflowStatus.PAUSED)
    return state.decision()


def _apply_resume(definition: WorkflowDef, run: Workflow, event: Resume, ctx: DecideContext) -> Decision:
    if run.status is not WorkflowStatus.PAUSED:
        return _in_state(run, expected=WorkflowStatus.PAUSED.value)
    state = RunState(definition, run, ctx)
    state.set_run(status=WorkflowStatus.RUNNING)
    return walk.finish(state)


def _apply_decide(definition: WorkflowDef, run: Workflow, event: Decide, ctx: DecideContext) -> Decision:
    if run.status is not WorkflowStatus.RUNNING:
        return _in_state(run, expected=WorkflowStatus.RUNNING.value)
    return walk.finish(RunState(definition, run, ctx))


def _apply_update_variables(
    definition: WorkflowDef, run: Workflow, event: UpdateVariables, ctx: DecideContext
) -> Decision:
    if run.status.is_terminal:
        return _in_state(run)
    state = RunState(definition, run, ctx)
    variables = event.variables
    if event.append_array:
        variables = {key: _appended(run.variables.get(key), value) for key, value in variables.items()}
    state.set_run(variables={**run.variables, **variables})
    if event.merge_variables is not None:
        state.set_run(variables={**state.run.variables, **event.merge_variables(state.run)})
    return walk.finish(state)


def _appended(current: Any, value: Any) -> Any:
    """``appendArray``: a list variable gets ``value`` appended (a list's items one by one); others are replaced."""
    if not isinstance(current, list):
        return value
    return [*current, *value] if isinstance(value, list) else [*current, value]


# -- restart, rerun ------------------------------------------------------------------------


def _apply_restart(definition: WorkflowDef, run: Workflow, event: Restart, ctx: DecideContext) -> Decision:
    if not run.status.is_terminal:
        return _in_state(run)
    target = event.definition or definition
    if run.status is WorkflowStatus.COMPLETED and not target.restartable:
        return refuse(
            run,
            "conflict",
            f"Workflow {run.workflow_id} is COMPLETED and its definition {target.name} "
            f"version {target.version} is not restartable",
        )
    decision = _start_over(target, run, run.input, run.correlation_id, ctx)
    decision.definition = event.definition
    decision.signals[:0] = _parent_signals(run, "restarted", ctx)
    return decision


def _apply_rerun(definition: WorkflowDef, run: Workflow, event: Rerun, ctx: DecideContext) -> Decision:
    if not run.status.is_terminal:
        return _in_state(run)
    correlation_id = event.correlation_id if event.correlation_id is not None else run.correlation_id
    workflow_input = event.workflow_input if event.workflow_input is not None else run.input
    if event.from_task_id is None:
        decision = _start_over(definition, run, workflow_input, correlation_id, ctx)
        decision.signals[:0] = _parent_signals(run, "reran", ctx)
        return decision
    origin = next((t for t in run.tasks if t.task_id == event.from_task_id), None)
    if origin is None:
        return refuse(run, "not_found", f"Task {event.from_task_id} not found in workflow {run.workflow_id}")
    kept = [t for t in run.tasks if t.seq <= origin.seq]
    removed = [t.task_id for t in run.tasks if t.seq > origin.seq]
    now = ctx.now
    header = _reopened(run, now, input=workflow_input, correlation_id=correlation_id, output={})
    state = RunState(definition, _replace(header, tasks=kept), ctx)
    state.put(
        scheduled_afresh(
            origin,
            now,
            input_data=origin.input_data if event.task_input is None else event.task_input,
            first_scheduled_time=0,
            callback_after_seconds=0,
            visible_at=now if is_worker(origin) else 0,
        )
    )
    _notify_parent(state, "reran")
    decision = walk.finish(state)
    decision.removed = removed
    return decision


def _start_over(
    definition: WorkflowDef,
    run: Workflow,
    workflow_input: dict[str, Any],
    correlation_id: str | None,
    ctx: DecideContext,
) -> Decision:
    """The run from its first step again: every task removed, the definition's initial variables."""
    header = _reopened(
        run,
        ctx.now,
        workflow_version=definition.version,
        input=workflow_input,
        correlation_id=correlation_id,
        output={},
        variables={},
        create_time=ctx.now,
        start_time=ctx.now,
        tasks=[],
    )
    decision = decider.start(definition, header, ctx)
    decision.removed = [t.task_id for t in run.tasks]
    return decision


def _reopened(run: Workflow, now: int, **changes: Any) -> Workflow:
    """The header of an ended run that runs again; its WorkflowDef timeout counts from now."""
    return _replace(
        run,
        status=WorkflowStatus.RUNNING,
        reason_for_incompletion=None,
        failed_reference_task_names=[],
        failed_task_names=[],
        end_time=0,
        update_time=now,
        last_retried_time=now,
        timeout_alerted_at=0,
        **changes,
    )


# -- retry ---------------------------------------------------------------------------------


def retriable_steps(run: Workflow) -> list[Task]:
    """The latest attempt of each step that ended FAILED, FAILED_WITH_TERMINAL_ERROR, TIMED_OUT or CANCELED."""
    latest = latest_by_reference(run.tasks).values()
    return sorted((t for t in latest if t.status in _RETRIABLE and not t.retried), key=lambda t: t.seq)


def can_retry(run: Workflow) -> bool:
    """Whether ``Retry`` would be accepted for this run (as it is now)."""
    return run.status in _RETRYABLE_RUNS and (bool(retriable_steps(run)) or run.status is WorkflowStatus.TIMED_OUT)


def _apply_retry(definition: WorkflowDef, run: Workflow, event: Retry, ctx: DecideContext) -> Decision:
    if run.status not in _RETRYABLE_RUNS:
        return _in_state(run)
    failed = retriable_steps(run)
    if not failed and run.status is not WorkflowStatus.TIMED_OUT:
        return refuse(
            run,
            "conflict",
            f"Workflow {run.workflow_id} has no failed task to retry: restart it to run it again from the start",
        )
    state = RunState(definition, _reopened(run, ctx.now), ctx)
    logs: list[TaskExecLog] = []
    for task in failed:
        child = task.sub_workflow_id
        if task.task_id in event.resume_task_ids and task.task_type == SUB_WORKFLOW and child:
            logs.append(_wait_for_child_again(state, task, child, "retried"))
            state.add_signal(SignalKind.RETRY_CHILD, child, task_id=task.task_id)
        else:
            _new_attempt(state, task)
    if event.notify_parent:
        _notify_parent(state, "retried")
    decision = walk.finish(state)
    decision.logs = logs
    return decision


def _wait_for_child_again(state: RunState, task: Task, child: str, operation: str) -> TaskExecLog:
    """An ended SUB_WORKFLOW task waits for its (retried) child again; the log line says so (as Conductor)."""
    now = state.now
    state.put(
        _replace(
            task,
            status=TaskStatus.IN_PROGRESS,
            reason_for_incompletion=None,
            end_time=0,
            update_time=now,
            lease_expires_at=0,
            visible_at=0,
            timeout_alerted_at=0,
        )
    )
    return TaskExecLog(log=f"Sub workflow {child} {operation}.", task_id=task.task_id, created_time=now)


def _notify_parent(state: RunState, operation: str) -> None:
    """A reopened sub-workflow asks its parent's SUB_WORKFLOW task to wait for it again."""
    run = state.run
    if run.parent_workflow_id and run.parent_workflow_task_id:
        state.add_signal(
            SignalKind.CHILD_RETRIED,
            run.parent_workflow_id,
            task_id=run.parent_workflow_task_id,
            reason=operation,
        )


def _parent_signals(run: Workflow, operation: str, ctx: DecideContext) -> list[Signal]:
    """``_notify_parent`` for a decision made without a ``RunState`` (a run started over)."""
    if not (run.parent_workflow_id and run.parent_workflow_task_id):
        return []
    return [
        Signal(
            signal_id=ctx.new_id(),
            kind=SignalKind.CHILD_RETRIED,
            source_workflow_id=run.workflow_id,
            target_workflow_id=run.parent_workflow_id,
            task_id=run.parent_workflow_task_id,
            reason=operation,
            created_at=ctx.now,
        )
    ]


def _new_attempt(state: RunState, task: Task) -> None:
    """Schedule the next attempt of a failed step, its input resolved again over the failed one's."""
    now = state.now
    task_id = state.ctx.new_id()
    input_data = task.input_data
    step = task.workflow_task
    if step is not None and step.input_parameters:
        state.doc.task_id = task_id
        resolved = resolve(step.input_parameters, state.doc)
        state.doc.task_id = None
        if isinstance(resolved, dict):
            input_data = {**task.input_data, **resolved}
    state.put(_replace(task, retried=True, update_time=now))
    state.add(
        next_attempt(
            state,
            task,
            task_id,
            input_data=input_data,
            first_scheduled_time=0,  # an operator's retry gets a fresh totalTimeoutSeconds budget
            callback_after_seconds=0,
            visible_at=now if is_worker(task) else 0,
        )
    )


# -- skip ----------------------------------------------------------------------------------


def _apply_skip_task(definition: WorkflowDef, run: Workflow, event: SkipTask, ctx: DecideContext) -> Decision:
    if run.status is not WorkflowStatus.RUNNING:
        return _in_state(run, expected=WorkflowStatus.RUNNING.value)
    ref = event.reference_task_name
    attempts = [t for t in run.tasks if t.reference_task_name == ref]
    state = RunState(definition, run, ctx)
    now = ctx.now
    if attempts:
        latest = max(attempts, key=attempt_order)
        if latest.status.is_terminal:
            return refuse(run, "conflict", f"Task {ref} of workflow {run.workflow_id} is already {latest.status.value}")
        state.put(_skipped(latest, event, now))
        if latest.task_type == SUB_WORKFLOW and latest.sub_workflow_id:
            state.add_signal(SignalKind.TERMINATE_CHILD, latest.sub_workflow_id, task_id=latest.task_id)
        return walk.finish(state)
    step = _step_named(definition, ref)
    if step is None:
        return refuse(run, "not_found", f"No task {ref} in the definition of workflow {run.workflow_id}")
    task = Task(
        task_id=ctx.new_id(),
        task_type=step.name if step.type == "SIMPLE" else step.type,
        reference_task_name=ref,
        workflow_instance_id=run.workflow_id,
        workflow_type=run.workflow_name,
        task_def_name=step.name,
        seq=state.max_seq + 1,
        correlation_id=run.correlation_id,
        workflow_priority=run.priority,
        scheduled_time=now,
        workflow_task=step,
    )
    state.add(_skipped(task, event, now))
    return walk.finish(state)


def _skipped(task: Task, event: SkipTask, now: int) -> Task:
    return _replace(
        task,
        status=TaskStatus.SKIPPED,
        input_data=event.task_input or task.input_data,
        output_data=event.task_output,
        end_time=now,
        update_time=now,
        visible_at=0,
        lease_expires_at=0,
    )


def _step_named(definition: WorkflowDef, ref: str) -> WorkflowTask | None:
    return next((s for s in definition.all_tasks() if s.task_reference_name == ref), None)


# -- what other runs ask -------------------------------------------------------------------


def _apply_child_retried(definition: WorkflowDef, run: Workflow, event: ChildRetried, ctx: DecideContext) -> Decision:
    """The SUB_WORKFLOW task whose child was retried waits for it again; an ended run is retried around it."""
    task = next((t for t in run.tasks if t.task_id == event.task_id), None)
    if task is None:
        return refuse(run, "not_found", f"Task {event.task_id} not found in workflow {run.workflow_id}")
    latest = latest_by_reference(run.tasks)[task.reference_task_name]
    if (
        task.task_type != SUB_WORKFLOW
        or task.sub_workflow_id != event.sub_workflow_id
        or latest.task_id != task.task_id
        or task.status not in _RETRIABLE
    ):
        return refuse(
            run,
            "conflict",
            f"Task {task.task_id} of workflow {run.workflow_id} is {task.status.value}: "
            f"it does not wait to resume sub workflow {event.sub_workflow_id}",
        )
    if not run.status.is_terminal:
        state = RunState(definition, run, ctx)
    elif run.status in _RETRYABLE_RUNS:
        state = RunState(definition, _reopened(run, ctx.now), ctx)
        for other in retriable_steps(run):
            if other.task_id != task.task_id:
                _new_attempt(state, other)
        _notify_parent(state, event.operation)
    else:
        return _in_state(run)
    log = _wait_for_child_again(state, task, event.sub_workflow_id, event.operation)
    decision = walk.finish(state)
    decision.logs = [log]
    return decision


def _apply_failure_workflow_not_started(
    definition: WorkflowDef, run: Workflow, event: FailureWorkflowNotStarted, ctx: DecideContext
) -> Decision:
    """Record Conductor's message in place of the failure workflow's id; nothing else of the run changes."""
    if run.output.get(FAILURE_WORKFLOW_OUTPUT) != event.failure_workflow_id:
        return refuse(
            run,
            "conflict",
            f"Workflow {run.workflow_id} does not record failure workflow {event.failure_workflow_id}",
        )
    message = f"Error workflow {event.name} failed to start.  reason: {event.reason}"
    state = RunState(definition, run, ctx)
    state.set_run(output={**run.output, FAILURE_WORKFLOW_OUTPUT: message})
    return state.decision()


_HANDLERS: Final[Mapping[type[Event], decider.EventHandler]] = {
    **decider.HANDLERS,
    Pause: _apply_pause,
    Resume: _apply_resume,
    Restart: _apply_restart,
    Retry: _apply_retry,
    Rerun: _apply_rerun,
    SkipTask: _apply_skip_task,
    UpdateVariables: _apply_update_variables,
    Decide: _apply_decide,
    ChildRetried: _apply_child_retried,
    FailureWorkflowNotStarted: _apply_failure_workflow_not_started,
}
"""Every event kind the engine handles, each with its handler: adding a kind is one entry here or in the decider's."""
