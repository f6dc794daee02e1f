"""A step's attempts: the first one made, a system task run inline, a failed one retried.

``schedule_step`` makes a step's first attempt when the walk reaches it. A
worker task, a server-run task (HTTP, EVENT, SUB_WORKFLOW, START_WORKFLOW) or
a delayed one waits SCHEDULED, visible in the queue or on a timer; a control
task (a fork, a join, a loop, a DYNAMIC step that named no task) is made in its
first state here; any other system task runs at once (``execute_system_task``),
and what it does to the run (its variables, a termination) is applied.

``can_retry`` and ``schedule_retry`` follow the step's task definition:
``retryCount`` attempts after the first, ``retryDelaySeconds`` by
``retryLogic`` (``retry_delay_seconds``), within ``totalTimeoutSeconds``
(``engine/timeouts.py``). A system task without a task definition (or a
``retryCount``) on its step is not retried. ``next_attempt`` makes the new
attempt, for these retries and for an operator's (``engine/operations.py``).
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from baton.engine import forks, http_steps, loops, system_tasks, timeouts
from baton.engine.expressions import resolve
from baton.engine.run_end import end_run
from baton.engine.run_state import AfterFork, RunState, Scope, is_queued, is_worker
from baton.engine.schema_checks import input_violation
from baton.engine.secrets import names_secrets, secret_inputs
from baton.model import (
    FORK_TASK_TYPE,
    SERVER_QUEUED_TASK_TYPES,
    SYSTEM_TASK_TYPES,
    RetryLogic,
    Task,
    TaskStatus,
    TaskType,
    WorkflowTask,
    task_def_for,
)
from baton.model.validation import name_problem

_MAX_RETRY_DELAY_SECONDS: Final = 2**31 - 1

_SIMPLE: Final = TaskType.SIMPLE.value
_DO_WHILE: Final = TaskType.DO_WHILE.value
_RETRIABLE: Final = frozenset({TaskStatus.FAILED, TaskStatus.TIMED_OUT})

_replace = msgspec.structs.replace


def schedule_step(state: RunState, step: WorkflowTask, scope: Scope, after_fork: AfterFork) -> None:
    """Create the first attempt of a step; a system task runs at once, a control task starts."""
    run, now = state.run, state.now
    task_id = state.ctx.new_id()
    state.doc.task_id = task_id
    input_data = resolve(step.input_parameters, state.doc) if step.input_parameters else {}
    if step.type == _DO_WHILE and step.items is not None and "items" not in input_data:
        input_data["items"] = resolve(step.items, state.doc)
    secrets = secret_inputs(step, state.doc) if names_secrets(state.definition, step) else None
    state.doc.task_id = None
    kind, name, definition = step.type, step.name, step
    if kind == TaskType.DYNAMIC:
        wanted = input_data.get(step.dynamic_task_name_param or "")
        if isinstance(wanted, str) and name_problem(wanted) is None:
            kind = wanted if wanted in SYSTEM_TASK_TYPES else _SIMPLE
            name = wanted
            definition = _replace(step, name=wanted, type=kind)
    queued = kind not in SYSTEM_TASK_TYPES or kind in SERVER_QUEUED_TASK_TYPES
    if kind in SERVER_QUEUED_TASK_TYPES:
        lease_seconds = state.ctx.server_task_lease_seconds
    else:
        lease_seconds = task_def_for(definition).response_timeout_seconds if queued else 0
    delay_ms = max(0, step.start_delay) * 1000
    delayed = bool(delay_ms) and kind not in _STARTERS  # a system task's start delay waits for its timer
    task = Task(
        task_id=task_id,
        task_type=name if kind == _SIMPLE else kind,
        reference_task_name=step.task_reference_name + scope.suffix,
        workflow_instance_id=run.workflow_id,
        workflow_type=run.workflow_name,
        status=TaskStatus.SCHEDULED,
        task_def_name=name,
        seq=state.max_seq + 1,
        input_data=input_data,
        correlation_id=run.correlation_id,
        workflow_priority=run.priority,
        scheduled_time=now,
        update_time=now,
        start_delay_in_seconds=step.start_delay,
        response_timeout_seconds=lease_seconds,
        iteration=scope.iteration,
        workflow_task=definition,
        visible_at=now + delay_ms if queued or delayed else 0,
    )
    if queued and secrets:
        task.secret_inputs = secrets
    if queued and kind not in SERVER_QUEUED_TASK_TYPES:
        violation = input_violation(state.ctx, definition, input_data)
        if violation is not None:  # the same input would fail every retry: a terminal error
            state.add(_replace(_terminal_failure(task, now, violation), visible_at=0))
            return
    if queued or delayed:
        state.add(task)
        return
    starter = _STARTERS.get(kind)
    if starter is None:
        state.add(task)
        execute_system_task(state, task)
        return
    state.add(starter(state, task, step, scope, after_fork))


def _start_fork(state: RunState, task: Task, step: WorkflowTask, scope: Scope, after_fork: AfterFork) -> Task:
    forked = _replace(task, task_type=FORK_TASK_TYPE, task_def_name=FORK_TASK_TYPE)
    if step.type == TaskType.FORK_JOIN:
        return system_tasks.completed(forked, state.now)
    _, input_data, error = forks.expand(step, task.input_data, state.limits.max_fork_width, state.budget)
    if error is not None:
        return _terminal_failure(forked, state.now, error)
    return system_tasks.completed(_replace(forked, input_data=input_data), state.now)


def _start_join(state: RunState, task: Task, step: WorkflowTask, scope: Scope, after_fork: AfterFork) -> Task:
    join_on = _join_on(state, step, scope, after_fork)
    return _replace(
        task,
        status=TaskStatus.IN_PROGRESS,
        input_data={**task.input_data, forks.JOIN_ON: join_on},
        start_time=state.now,
    )


def _join_on(state: RunState, step: WorkflowTask, scope: Scope, after_fork: AfterFork) -> list[str]:
    """The full reference names a JOIN waits for: a dynamic fork's branches, else its ``joinOn``."""
    if after_fork is not None and after_fork[0].type == TaskType.FORK_JOIN_DYNAMIC:
        fork = state.latest.get(after_fork[0].task_reference_name + scope.suffix)
        forked = fork.input_data.get(forks.FORKED_TASKS) if fork is not None else None
        if isinstance(forked, list):
            return [ref + scope.suffix for ref in forked if isinstance(ref, str)]
        return []
    return [ref + scope.suffix for ref in step.join_on]


def _start_exclusive_join(state: RunState, task: Task, step: WorkflowTask, scope: Scope, after_fork: AfterFork) -> Task:
    """The case before it is done (a SWITCH holds the list until it is): take the output of the one that ran."""
    found, failed = forks.exclusive_join_result(step, scope.suffix, state.latest)
    if found is None:
        return system_tasks.completed(task, state.now, {})
    if failed:
        reason = found.reason_for_incompletion or f"Task {found.reference_task_name} ended {found.status.value}"
        return system_tasks.failed(task, state.now, reason, found.output_data)
    return system_tasks.completed(task, state.now, found.output_data)


def _start_loop(state: RunState, task: Task, step: WorkflowTask, scope: Scope, after_fork: AfterFork) -> Task:
    items, error = loops.items_of(step, task.input_data)
    if error is not None:
        return _terminal_failure(task, state.now, error)
    if items is not None and not items:
        return system_tasks.completed(task, state.now, {loops.ITERATION: 0})
    return _replace(
        task,
        status=TaskStatus.IN_PROGRESS,
        iteration=1,
        output_data={loops.ITERATION: 1, **loops.item_fields(items, 1)},
        start_time=state.now,
    )


def _start_dynamic(state: RunState, task: Task, step: WorkflowTask, scope: Scope, after_fork: AfterFork) -> Task:
    """Reached only when the name parameter did not name a task (else the task took that name's type)."""
    param = step.dynamic_task_name_param or ""
    wanted = task.input_data.get(param)
    problem = name_problem(wanted) if isinstance(wanted, str) else None
    why = f" (the name {problem})" if problem is not None else ""
    return _terminal_failure(
        task, state.now, f"DYNAMIC task: input '{param}' must name the task to run, not {wanted!r}{why}"
    )


def _terminal_failure(task: Task, now: int, reason: str) -> Task:
    return _replace(system_tasks.failed(task, now, reason), status=TaskStatus.FAILED_WITH_TERMINAL_ERROR)


_STARTERS: Final = {
    TaskType.FORK_JOIN.value: _start_fork,
    TaskType.FORK_JOIN_DYNAMIC.value: _start_fork,
    TaskType.JOIN.value: _start_join,
    TaskType.EXCLUSIVE_JOIN.value: _start_exclusive_join,
    TaskType.DO_WHILE.value: _start_loop,
    TaskType.DYNAMIC.value: _start_dynamic,
}
"""Control tasks: made in their first state by the decider itself, not run by ``system_tasks``."""


def execute_system_task(state: RunState, task: Task) -> None:
    """Run a SCHEDULED system task and apply what it does to the run."""
    runner = http_steps.RUNNERS.get(task.task_type)
    if runner is not None:
        runner(state, task)
        return
    outcome = system_tasks.execute(task, now=state.now, variables=state.run.variables, limits=state.limits)
    state.put(outcome.task)
    if outcome.variables is not None:
        state.set_run(variables=outcome.variables)
    if outcome.termination is not None:
        ending = outcome.termination
        end_run(state, ending.status, reason=ending.reason, output=ending.output)


def _retry_limit(task: Task) -> int:
    step = task.workflow_task
    if step is None:
        return 0
    if step.retry_count is not None:
        return step.retry_count
    if not is_worker(task) and step.task_definition is None:
        return 0
    return task_def_for(step).retry_count


def can_retry(task: Task, now: int) -> bool:
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


def schedule_retry(state: RunState, task: Task) -> None:
    now = state.now
    delay = retry_delay_seconds(task)
    retry = next_attempt(
        state,
        task,
        state.ctx.new_id(),
        first_scheduled_time=task.first_scheduled_time or task.scheduled_time,
        start_delay_in_seconds=delay,
        callback_after_seconds=delay,
        visible_at=now + delay * 1000 if delay else (now if is_queued(task) else 0),
    )
    state.put(_replace(task, retried=True, update_time=now))
    state.add(retry)
    if not is_queued(retry) and delay == 0:
        execute_system_task(state, retry)


def next_attempt(state: RunState, task: Task, task_id: str, **changes: Any) -> Task:
    """The next attempt of an ended ``task``: SCHEDULED now, with no output, worker, lease or times of its own yet.

    ``changes`` set what the caller decides: its input, when it becomes visible, its timeout budget.
    """
    return scheduled_afresh(
        task,
        state.now,
        task_id=task_id,
        seq=state.max_seq + 1,
        retry_count=task.retry_count + 1,
        retried_task_id=task.task_id,
        poll_count=0,
        **changes,
    )


def scheduled_afresh(task: Task, now: int, **changes: Any) -> Task:
    """``task`` SCHEDULED at ``now`` with nothing of a run of its own: no output, reason, worker, child, lease,
    alert or times; ``changes`` on top (a new attempt's id and seq, a rerun's input)."""
    return _replace(
        task,
        status=TaskStatus.SCHEDULED,
        output_data={},
        reason_for_incompletion=None,
        worker_id=None,
        sub_workflow_id=None,
        retried=False,
        executed=False,
        scheduled_time=now,
        start_time=0,
        end_time=0,
        update_time=now,
        timeout_alerted_at=0,
        lease_expires_at=0,
        **changes,
    )
