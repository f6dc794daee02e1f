"""The walk: advancing a run as far as it goes once its event is applied.

``finish`` (after a handler) and ``advance_run`` (for a new run) walk the
definition's task list from the top, scheduling the next step of each list once
the step before it succeeded, running system tasks inline until nothing more can
be done, retrying failed attempts, and ending the run when its list is done or a
step failed for good. The walk is recursive: a SWITCH's chosen case, each branch
of a fork (``engine/forks.py``) and each iteration of a DO_WHILE body
(``engine/loops.py``) are child lists. Inside a loop, a scope carries the
iteration suffix (``__N``) that every reference name gets.

The walk costs what changed, not the run's size: after an event, a fork walks
only the branches that hold a changed task (the others were advanced as far as
they go by the decision that last touched them); when such a partial walk is
all that stands between the run and its end, the run is walked once in full to
confirm it (``Progress.UNKNOWN``). Handlers that change a run in other ways
(lifecycle operations) get the full walk by default.
"""

from __future__ import annotations

from typing import Final

import msgspec

from baton.engine import forks, loops, system_tasks
from baton.engine.attempts import can_retry, execute_system_task, schedule_retry, schedule_step
from baton.engine.decision import Decision
from baton.engine.run_end import end_run, fail_run
from baton.engine.run_state import TOP_SCOPE, AfterFork, Progress, RunState, Scope, is_queued
from baton.model import FORK_TASK_TYPE, SYSTEM_TASK_TYPES, Task, TaskStatus, TaskType, WorkflowStatus, WorkflowTask

__all__ = ["advance_run", "finish"]

_replace = msgspec.structs.replace

_SWITCH_TYPES: Final = frozenset({TaskType.SWITCH.value, TaskType.DECISION.value})
_FORK_STEPS: Final = frozenset({TaskType.FORK_JOIN.value, TaskType.FORK_JOIN_DYNAMIC.value})
_DO_WHILE: Final = TaskType.DO_WHILE.value
_JOIN: Final = TaskType.JOIN.value
_PENDING: Final = frozenset({TaskStatus.SCHEDULED, TaskStatus.IN_PROGRESS})
_SUCCESSFUL: Final = frozenset(s for s in TaskStatus if s.is_successful)


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
    advance_run(state)
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


def advance_run(state: RunState) -> None:
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
