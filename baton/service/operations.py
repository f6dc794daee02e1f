"""An operator's use cases: pause, resume, restart, retry, rerun, skip a task, set variables, decide,
their bulk forms, and task logs.

Each single-run operation is one event applied with ``ServiceContext.apply_event``
(one decision, one transaction); what each does to the run is written in
``engine/operations.py``. A run in the wrong state is a ConflictError whose
message names the state; an unknown run or task is a NotFoundError.

Where Conductor leaves room, Baton chooses:

* ``decide`` on a run that is not RUNNING does nothing and is not an error
  (Conductor's decider returns at once for a paused or ended run).
* ``retry`` with ``resumeSubworkflowTasks``: a failed SUB_WORKFLOW step whose child
  can itself be retried gets no new attempt and no new child; it goes back to
  IN_PROGRESS waiting for that same child, and the child is retried through this
  same use case (with the flag, so a failed grandchild is resumed too), before the
  answer, by the RETRY_CHILD signal the parent's decision wrote (the outbox makes
  it durable). A child that cannot be retried (it completed, or has no failed
  step) leaves its step to a new attempt, as Conductor falls back to retrying the
  parent. Conductor looks only at the first failed task; Baton resumes every
  failed SUB_WORKFLOW step (forks) and retries the other failed steps as usual.
* Any retry, restart or rerun of a run that is a sub-workflow (with the flag or
  not, as Conductor's ``updateAndPushParents``) puts its parent's SUB_WORKFLOW task back IN_PROGRESS
  waiting for it, and a parent that ended runs again (its other failed steps
  retried), up the tree, before the answer: the CHILD_RETRIED signal. Only when
  that task is the latest attempt of its step and ended unsuccessfully (a parent
  that already started another child, or whose step was optional, is left alone).
* ``rerun`` takes the run id from the path; a ``reRunFromWorkflowId`` in the body
  is ignored (Conductor overwrites it the same way).
* The bulk forms apply the single-run operation to each id in turn (at most
  ``MAX_BULK_IDS``, Conductor's limit); each failure is reported under its id
  with its message, and does not stop the others.
* A log line's ``createdTime`` is the server's clock when the caller gives none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

from baton.engine import (
    Decide,
    Event,
    Pause,
    Rerun,
    Restart,
    Resume,
    Retry,
    SkipTask,
    UpdateVariables,
    can_retry,
    retriable_steps,
)
from baton.engine.events import MergeVariables
from baton.errors import BatonError, ConflictError, FieldError, ValidationError, task_not_found, workflow_not_found
from baton.model import BulkResponse, RerunWorkflowRequest, SkipTaskRequest, TaskExecLog, TaskType, Workflow
from baton.model.audit import AuditAction, TargetKind
from baton.service.context import ServiceContext
from baton.service.resolver import DefinitionResolver

MAX_BULK_IDS: Final = 1000
"""Most run ids one bulk request may name (Conductor's limit)."""


class OperationService:
    def __init__(self, ctx: ServiceContext, resolver: DefinitionResolver) -> None:
        self._ctx = ctx
        self._resolver = resolver

    # -- one run -------------------------------------------------------------------

    async def pause(self, workflow_id: str) -> None:
        await self._apply(workflow_id, Pause())
        await self._ctx.audit.record(AuditAction.RUN_PAUSED, TargetKind.RUN, workflow_id)

    async def resume(self, workflow_id: str) -> None:
        await self._apply(workflow_id, Resume())
        await self._ctx.audit.record(AuditAction.RUN_RESUMED, TargetKind.RUN, workflow_id)

    async def restart(self, workflow_id: str, *, use_latest_definitions: bool = False) -> None:
        """Run an ended run again from its start; with the latest registered definition when asked."""
        definition = None
        if use_latest_definitions:
            run = await self._run_header(workflow_id)
            definition = await self._resolver.by_name(run.workflow_name, None)
        await self._ctx.apply_event(workflow_id, Restart(definition=definition), signals_inline=True)
        detail = {"useLatestDefinitions": use_latest_definitions}
        await self._ctx.audit.record(AuditAction.RUN_RESTARTED, TargetKind.RUN, workflow_id, detail)

    async def retry(
        self, workflow_id: str, *, resume_subworkflow_tasks: bool = False, from_parent: bool = False
    ) -> None:
        """A new attempt of each failed step of a FAILED, TIMED_OUT or TERMINATED run.

        With ``resume_subworkflow_tasks`` a failed SUB_WORKFLOW step whose child can be
        retried waits for that child again instead, and the child is retried.
        ``from_parent``: the parent asked (its step already waits; it is not told again).
        """
        resume: frozenset[str] = frozenset()
        if resume_subworkflow_tasks:
            resume = await self._resumable_children(workflow_id)
        event = Retry(resume_task_ids=resume, notify_parent=not from_parent)
        await self._ctx.apply_event(workflow_id, event, signals_inline=True)
        detail = {"resumeSubworkflowTasks": resume_subworkflow_tasks, "fromParent": from_parent}
        await self._ctx.audit.record(AuditAction.RUN_RETRIED, TargetKind.RUN, workflow_id, detail)

    async def rerun(self, workflow_id: str, request: RerunWorkflowRequest) -> str:
        """Run an ended run again from ``reRunFromTaskId`` (or from its start); returns its id."""
        event = Rerun(
            from_task_id=request.re_run_from_task_id or None,
            task_input=request.task_input,
            workflow_input=request.workflow_input,
            correlation_id=request.correlation_id,
        )
        await self._ctx.apply_event(workflow_id, event, signals_inline=True)
        detail = {"reRunFromTaskId": request.re_run_from_task_id or None}
        await self._ctx.audit.record(AuditAction.RUN_RERUN, TargetKind.RUN, workflow_id, detail)
        return workflow_id

    async def skip_task(self, workflow_id: str, reference_task_name: str, request: SkipTaskRequest) -> None:
        await self._apply(
            workflow_id,
            SkipTask(
                reference_task_name=reference_task_name,
                task_input=request.task_input,
                task_output=request.task_output,
            ),
        )
        detail = {"taskReferenceName": reference_task_name}
        await self._ctx.audit.record(AuditAction.TASK_SKIPPED, TargetKind.RUN, workflow_id, detail)

    async def update_variables(
        self,
        workflow_id: str,
        variables: dict[str, Any],
        *,
        append_array: bool = False,
        merge_variables: MergeVariables | None = None,
    ) -> Workflow:
        """Merge ``variables`` into the run's (``append_array``: appended to those that hold lists), then what
        ``merge_variables`` computes from the run the decision locks (pure: it may be called again on a newer
        run); returns the run as it is now."""
        event = UpdateVariables(variables=variables, append_array=append_array, merge_variables=merge_variables)
        await self._apply(workflow_id, event)
        run = await self._ctx.store.get_run(workflow_id)
        if run is None:
            raise workflow_not_found(workflow_id)
        return run

    async def decide(self, workflow_id: str) -> None:
        try:
            await self._apply(workflow_id, Decide())
        except ConflictError:
            return  # not RUNNING: nothing to decide

    # -- many runs -----------------------------------------------------------------

    async def bulk(self, workflow_ids: Sequence[str], operation: Callable[[str], Awaitable[object]]) -> BulkResponse:
        """Apply ``operation`` to each id; a failure is recorded under its id and the rest go on."""
        check_bulk_ids(workflow_ids)
        response = BulkResponse()
        for workflow_id in dict.fromkeys(workflow_ids):
            try:
                await operation(workflow_id)
            except BatonError as exc:
                response.bulk_error_results[workflow_id] = exc.message
            else:
                response.bulk_successful_results.append(workflow_id)
        return response

    # -- task logs -----------------------------------------------------------------

    async def add_task_log(self, task_id: str, line: str) -> None:
        log = TaskExecLog(log=line, task_id=task_id, created_time=self._ctx.clock())
        if not await self._ctx.store.add_task_logs(task_id, [log]):
            raise task_not_found(task_id)

    async def task_logs(self, task_id: str) -> list[TaskExecLog]:
        logs = await self._ctx.store.get_task_logs(task_id)
        if logs is None:
            raise task_not_found(task_id)
        return logs

    # -- plumbing ------------------------------------------------------------------

    async def _apply(self, workflow_id: str, event: Event) -> None:
        await self._ctx.apply_event(workflow_id, event)

    async def _resumable_children(self, workflow_id: str) -> frozenset[str]:
        """The run's failed SUB_WORKFLOW tasks whose child exists and can be retried."""
        run = await self._ctx.store.get_run(workflow_id, include_tasks=True)
        if run is None:
            raise workflow_not_found(workflow_id)
        resumable: set[str] = set()
        for task in retriable_steps(run):
            if task.task_type != TaskType.SUB_WORKFLOW.value or not task.sub_workflow_id:
                continue
            child = await self._ctx.store.get_run(task.sub_workflow_id, include_tasks=True)
            if child is not None and can_retry(child):
                resumable.add(task.task_id)
        return frozenset(resumable)

    async def _run_header(self, workflow_id: str) -> Workflow:
        run = await self._ctx.store.get_run(workflow_id, include_tasks=False)
        if run is None:
            raise workflow_not_found(workflow_id)
        return run


def check_bulk_ids(workflow_ids: Sequence[str]) -> None:
    if not workflow_ids:
        raise ValidationError(errors=[FieldError("body", "must list at least one workflow id")])
    if len(workflow_ids) > MAX_BULK_IDS:
        raise ValidationError(
            errors=[
                FieldError(
                    "body", f"cannot process more than {MAX_BULK_IDS} workflows in one request, got {len(workflow_ids)}"
                )
            ]
        )
    for index, workflow_id in enumerate(workflow_ids):
        if not workflow_id.strip():
            raise ValidationError(errors=[FieldError(f"body[{index}]", "must be a workflow id, got an empty string")])
