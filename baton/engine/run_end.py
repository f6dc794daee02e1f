"""How a run ends: its pending tasks cancelled, its status, output and end time set, linked runs told.

``end_run`` is the one way a decision ends a run, whatever ended it: its list
done, a step failed for good (``fail_run``), a TERMINATE task, a timeout, the
``Terminate`` event, a runaway decision. The signals it writes: CHILD_ENDED to
the parent's SUB_WORKFLOW task, TERMINATE_CHILD for each sub-workflow still
running, RUN_ENDED when its end is subscribed to (a webhook,
``DecideContext.run_end_watched``), and START_FAILURE_WORKFLOW when the run ends
FAILED or TIMED_OUT and its definition names a ``failureWorkflow``, under an id chosen here and recorded
at once in the run's output as ``conductor.failure_workflow``
(``FAILURE_WORKFLOW_OUTPUT``), as Conductor does.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from baton.engine.decision import SignalKind
from baton.engine.expressions import resolve
from baton.engine.run_state import SUB_WORKFLOW, RunState
from baton.model import Task, TaskStatus, WorkflowStatus

FAILURE_WORKFLOW_OUTPUT: Final = "conductor.failure_workflow"
"""The key of a run's output that holds its failure workflow's id (or why it could not start)."""

_TRIGGERS_FAILURE_WORKFLOW: Final = frozenset({WorkflowStatus.FAILED, WorkflowStatus.TIMED_OUT})
_FAILED_TASK: Final = frozenset({TaskStatus.FAILED, TaskStatus.FAILED_WITH_TERMINAL_ERROR, TaskStatus.TIMED_OUT})

_replace = msgspec.structs.replace


def fail_run(state: RunState, task: Task) -> None:
    """A step failed for good: the run ends with the task's reason, its reference and name recorded as failed."""
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
    end_run(state, status, reason=reason)


def end_run(
    state: RunState,
    status: WorkflowStatus,
    *,
    reason: str | None = None,
    output: dict[str, Any] | None = None,
) -> None:
    """End the run: cancel what is still pending, set its status, output and end time; signal other runs."""
    now = state.now
    for task in state.live_tasks():
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
            if task.task_type == SUB_WORKFLOW and task.sub_workflow_id:
                state.add_signal(SignalKind.TERMINATE_CHILD, task.sub_workflow_id, reason=reason)
    if output is None:
        output = _run_output(state)
    run = state.run
    if run.parent_workflow_id and run.parent_workflow_task_id:
        state.add_signal(SignalKind.CHILD_ENDED, run.parent_workflow_id, task_id=run.parent_workflow_task_id)
    failure_workflow = state.definition.failure_workflow
    if status in _TRIGGERS_FAILURE_WORKFLOW and failure_workflow:
        failure_run_id = state.ctx.new_id()
        output = {**output, FAILURE_WORKFLOW_OUTPUT: failure_run_id}
        state.add_signal(
            SignalKind.START_FAILURE_WORKFLOW,
            failure_run_id,
            task_id=_failed_task_id(state),
            name=failure_workflow,
            reason=reason,
        )
    watched = state.ctx.run_end_watched
    if watched is not None and watched(run.workflow_id):
        state.add_signal(SignalKind.RUN_ENDED, run.workflow_id)
    state.set_run(
        status=status,
        output=output,
        reason_for_incompletion=reason if status is not WorkflowStatus.COMPLETED else None,
        end_time=now,
    )


def _failed_task_id(state: RunState) -> str | None:
    """The latest task that failed, for the failure workflow's ``failureTaskId``."""
    failed: Task | None = None
    for task in state.tasks:
        if task.status in _FAILED_TASK and (failed is None or task.seq > failed.seq):
            failed = task
    return failed.task_id if failed is not None else None


def _run_output(state: RunState) -> dict[str, Any]:
    """The definition's ``outputParameters`` resolved, else the last task's output (Conductor's default)."""
    if state.definition.output_parameters:
        resolved = resolve(state.definition.output_parameters, state.doc)
        return resolved if isinstance(resolved, dict) else {}
    last: Task | None = None
    for task in state.live_tasks():
        if last is None or task.seq > last.seq:
            last = task
    return last.output_data if last is not None else {}
