"""Runs that start other runs: sub-workflows, START_WORKFLOW, failure workflows, and the signals between them.

A decision that ends a run writes signals to the outbox in its own transaction
(see ``engine.decision.Signal``); ``handle`` acts on one and then deletes it.
Right after the commit the deciding process acts on them itself
(``ServiceContext.signal_handler``); whatever a crash leaves in the outbox the
relay of any server takes up (``runtime.relay``). So every hand-over is
durable and at least once, and each is idempotent:

* CHILD_ENDED gives the child's result to its parent's SUB_WORKFLOW task
  (COMPLETED with the child's output; FAILED otherwise, retried per the task's
  TaskDef with a new child). A task that already has its result refuses it.
* TERMINATE_CHILD terminates a child whose parent ended; a child already ended
  refuses it.
* START_FAILURE_WORKFLOW starts the failure workflow under the id the failed
  run already records as ``conductor.failure_workflow``; a second start of
  that id is refused by the store. Its input is Conductor's: the failed run's
  input plus ``workflowId``, ``reason``, ``failureStatus``, ``failureTaskId`` and
  ``failedWorkflow``. When it cannot be started (no such definition) the signal
  is dropped with a warning and the recorded id names no run.

A SUB_WORKFLOW task starts its child with an idempotency key made from the
task's id and scheduled time, so the same attempt claimed again after a crash
finds its child instead of starting a second one, while a rerun of the task
(same id, scheduled again) starts a new child. The child's input is the task's input, its correlation id and
priority the parent's.
"""

from __future__ import annotations

import logging
from typing import Any

from baton.engine import Signal, SignalKind, TaskResultReceived
from baton.errors import BatonError, ConflictError, FieldError, NotFoundError, StoreError, ValidationError
from baton.model import (
    IdempotencyStrategy,
    StartWorkflowRequest,
    Task,
    TaskResult,
    TaskResultStatus,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
)
from baton.model.codec import convert, to_builtins
from baton.service.context import ServiceContext
from baton.service.runs import RunService

log = logging.getLogger(__name__)

SUB_WORKFLOW_ID = "subWorkflowId"


class ChildRuns:
    def __init__(self, ctx: ServiceContext, runs: RunService) -> None:
        self._ctx = ctx
        self._runs = runs

    # -- starting ------------------------------------------------------------------

    async def start_child(self, task: Task) -> Workflow:
        """Start the child run of a SUB_WORKFLOW task, or find the one an earlier claim of it started."""
        step = task.workflow_task
        params = step.sub_workflow_param if step is not None else None
        if params is None:
            raise ValidationError(errors=[FieldError("subWorkflowParam", "is required for a SUB_WORKFLOW task")])
        inline: WorkflowDef | None = None
        if params.workflow_definition is not None:
            inline = convert(params.workflow_definition, WorkflowDef, what="subWorkflowParam.workflowDefinition")
        request = StartWorkflowRequest(
            name=params.name,
            version=params.version,
            workflow_def=inline,
            input=dict(task.input_data),
            correlation_id=task.correlation_id,
            priority=task.workflow_priority,
            idempotency_key=f"{task.task_id}:{task.scheduled_time}:sub_workflow",
            idempotency_strategy=IdempotencyStrategy.RETURN_EXISTING,
        )
        started = await self._runs.start(
            request, parent_workflow_id=task.workflow_instance_id, parent_workflow_task_id=task.task_id
        )
        return await self._runs.get(started.workflow_id, include_tasks=False)

    async def start_workflow(self, task: Task) -> str:
        """START_WORKFLOW: start the run its ``startWorkflow`` input asks for, once per task attempt; its id."""
        spec = task.input_data.get("startWorkflow")
        if not isinstance(spec, dict):
            raise ValidationError(errors=[FieldError("inputParameters.startWorkflow", "must be an object")])
        request = convert(
            {k: v for k, v in spec.items() if k in ("name", "version", "input", "correlationId")},
            StartWorkflowRequest,
            what="inputParameters.startWorkflow",
        )
        request.idempotency_key = f"{task.task_id}:start_workflow"
        request.idempotency_strategy = IdempotencyStrategy.RETURN_EXISTING
        started = await self._runs.start(request)
        return started.workflow_id

    # -- signals -------------------------------------------------------------------

    async def handle(self, signal: Signal) -> None:
        """Act on one signal, then remove it from the outbox. A store failure leaves it for the relay."""
        try:
            if signal.kind is SignalKind.CHILD_ENDED:
                await self._child_ended(signal)
            elif signal.kind is SignalKind.TERMINATE_CHILD:
                await self._terminate_child(signal)
            elif signal.kind is SignalKind.START_FAILURE_WORKFLOW:
                await self._start_failure_workflow(signal)
        except (ConflictError, NotFoundError) as exc:
            log.debug("signal %s (%s) already acted on or moot: %s", signal.signal_id, signal.kind.value, exc)
        except StoreError:
            raise
        except BatonError as exc:
            log.warning("signal %s (%s) dropped: %s", signal.signal_id, signal.kind.value, exc)
        await self._ctx.store.delete_signal(signal.signal_id)

    async def _child_ended(self, signal: Signal) -> None:
        child = await self._ctx.store.get_run(signal.source_workflow_id, include_tasks=False)
        if child is None or not child.status.is_terminal or signal.task_id is None:
            return
        result = child_result(child, signal.task_id)
        await self._ctx.apply_event(signal.target_workflow_id, TaskResultReceived(result=result))

    async def _terminate_child(self, signal: Signal) -> None:
        reason = f"Parent workflow {signal.source_workflow_id} ended"
        if signal.reason:
            reason = f"{reason}: {signal.reason}"
        await self._runs.terminate(signal.target_workflow_id, reason)

    async def _start_failure_workflow(self, signal: Signal) -> None:
        failed = await self._ctx.store.get_run(signal.source_workflow_id, include_tasks=True)
        if failed is None or signal.name is None:
            return
        failure_input: dict[str, Any] = {
            **failed.input,
            "workflowId": failed.workflow_id,
            "reason": signal.reason,
            "failureStatus": failed.status.value,
        }
        if signal.task_id is not None:
            failure_input["failureTaskId"] = signal.task_id
        failure_input["failedWorkflow"] = to_builtins(failed)
        request = StartWorkflowRequest(name=signal.name, input=failure_input, correlation_id=failed.correlation_id)
        try:
            await self._runs.start(request, workflow_id=signal.target_workflow_id)
        except NotFoundError as exc:
            log.warning("failure workflow of run %s not started: %s", failed.workflow_id, exc.message)


def child_result(child: Workflow, parent_task_id: str) -> TaskResult:
    """What a SUB_WORKFLOW task reports once its child ended."""
    if child.status is WorkflowStatus.COMPLETED:
        return TaskResult(
            task_id=parent_task_id,
            status=TaskResultStatus.COMPLETED,
            output_data={**child.output, SUB_WORKFLOW_ID: child.workflow_id},
            sub_workflow_id=child.workflow_id,
        )
    reason = f"Sub workflow {child.workflow_id} ended {child.status.value}"
    if child.reason_for_incompletion:
        reason = f"{reason}: {child.reason_for_incompletion}"
    return TaskResult(
        task_id=parent_task_id,
        status=TaskResultStatus.FAILED,
        output_data={SUB_WORKFLOW_ID: child.workflow_id},
        reason_for_incompletion=reason,
        sub_workflow_id=child.workflow_id,
    )
