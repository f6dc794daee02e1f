"""SUB_WORKFLOW and START_WORKFLOW tasks: they start other runs (see ``service.children``).

A SUB_WORKFLOW task reports IN_PROGRESS with its child's id and no lease, and
then waits: its result comes from the child's end (the CHILD_ENDED signal). A
child that ended before that report (or before a crash-retry found it) is
reported at once. If the report is refused because the parent meanwhile ended
and cancelled the task, the child it just started is terminated.
"""

from __future__ import annotations

import contextlib

from baton.errors import BatonError, ConflictError, NotFoundError, StoreError
from baton.model import Task, TaskResultStatus
from baton.runtime.executors.reporting import Reporter
from baton.service import Baton
from baton.service.children import SUB_WORKFLOW_ID, child_result


async def run_sub_workflow(task: Task, reporter: Reporter, service: Baton) -> None:
    try:
        child = await service.children.start_child(task)
    except StoreError:
        raise
    except BatonError as exc:
        await reporter.report(task, TaskResultStatus.FAILED, reason=f"Sub workflow not started: {exc.message}")
        return
    if child.status.is_terminal:
        result = child_result(child, task.task_id)
        await reporter.report(
            task,
            result.status,
            result.output_data,
            reason=result.reason_for_incompletion,
            sub_workflow_id=child.workflow_id,
        )
        return
    accepted = await reporter.report(
        task,
        TaskResultStatus.IN_PROGRESS,
        {SUB_WORKFLOW_ID: child.workflow_id},
        sub_workflow_id=child.workflow_id,
    )
    if not accepted:
        with contextlib.suppress(ConflictError, NotFoundError):
            await service.runs.terminate(child.workflow_id, f"Parent task {task.task_id} was cancelled")


async def run_start_workflow(task: Task, reporter: Reporter, service: Baton) -> None:
    try:
        workflow_id = await service.children.start_workflow(task)
    except StoreError:
        raise
    except BatonError as exc:
        await reporter.report(task, TaskResultStatus.FAILED, reason=f"Workflow not started: {exc.message}")
        return
    await reporter.report(task, TaskResultStatus.COMPLETED, {"workflowId": workflow_id})
