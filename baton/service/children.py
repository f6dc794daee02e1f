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
* TERMINATE_CHILD terminates a child whose parent ended, or whose parent's task
  was skipped; a child already ended refuses it.
* START_FAILURE_WORKFLOW starts the failure workflow under the id the failed
  run already records as ``conductor.failure_workflow``; a second start of
  that id is refused by the store. Its input is Conductor's: the failed run's
  input plus ``workflowId``, ``reason``, ``failureStatus``, ``failureTaskId`` and
  ``failedWorkflow``. A ``failureWorkflow`` given as an expression
  (``${workflow.input.onFailure}``) is resolved against the failed run first
  (Conductor reads such a name from the run's input). When it cannot be started
  (no such definition) the signal is not retried: the failed run's
  ``conductor.failure_workflow`` becomes Conductor's message, ``Error workflow
  <name> failed to start.  reason: <why>`` (the FailureWorkflowNotStarted event;
  nothing else of the run changes).
* RETRY_CHILD retries the child of a SUB_WORKFLOW task that a retry with
  ``resumeSubworkflowTasks`` put back to wait (``OperationService.retry``, with the
  flag). A child that cannot be retried any more (it ran on meanwhile, or is
  gone) gives the waiting task its result now, so the parent never waits for
  a run that will not end again.
* CHILD_RETRIED makes the parent's SUB_WORKFLOW task wait for its retried,
  restarted or rerun child again (the ChildRetried event). The child may have
  ended again before that: it is read afterwards, and an ended child's result is
  given at once (a CHILD_ENDED acted on first was refused by the task that had
  not yet reopened).

A START_WORKFLOW task starts the ``startWorkflow`` request of its input (``name``,
``version``, ``input``, ``correlationId``, ``priority``, an inline ``workflowDef``);
a blank correlation id becomes the starting run's, as Conductor does. The started
run is not a child: nothing links their ends.

A SUB_WORKFLOW task starts its child with an idempotency key made from the
task's id and scheduled time, so the same attempt claimed again after a crash
finds its child instead of starting a second one, while a rerun of the task
(same id, scheduled again) starts a new child. The child's input is the task's input, its correlation id and
priority the parent's (or ``subWorkflowParam.priority``).

``subWorkflowParam`` ``name``, ``version`` and ``priority`` may be expressions
(``${workflow.input.childName}``): they are resolved against the parent run, as
its task inputs are (Conductor does the same when it schedules the task; Baton
when the task starts its child, a moment later). A version must resolve to a
whole number (digits in a string are accepted, as Conductor parses them), or to
nothing for the latest; a name that resolves to nothing, or to a name no
definition has, fails the task naming the parameter, its expression and what it
resolved to.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from baton.engine import ChildRetried, FailureWorkflowNotStarted, Signal, SignalKind, TaskResultReceived
from baton.engine.expressions import document_for, resolve
from baton.errors import (
    BatonError,
    ConflictError,
    FieldError,
    NotFoundError,
    StoreError,
    ValidationError,
    workflow_not_found,
)
from baton.model import (
    IdempotencyStrategy,
    StartWorkflowRequest,
    SubWorkflowParams,
    Task,
    TaskResult,
    TaskResultStatus,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
)
from baton.model.codec import convert, to_builtins
from baton.service.context import ServiceContext
from baton.service.operations import OperationService
from baton.service.runs import RunService

log = logging.getLogger(__name__)

SUB_WORKFLOW_ID = "subWorkflowId"

_START_WORKFLOW_FIELDS = frozenset({"name", "version", "input", "correlationId", "priority", "workflowDef"})
"""What a START_WORKFLOW task's ``startWorkflow`` request may set (its idempotency key is Baton's own)."""


class ChildRuns:
    def __init__(self, ctx: ServiceContext, runs: RunService, operations: OperationService) -> None:
        self._ctx = ctx
        self._runs = runs
        self._operations = operations

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
        await self._check_depth(task)
        name, version, priority = await self._target(task, params)
        request = StartWorkflowRequest(
            name=name,
            version=version,
            workflow_def=inline,
            input=dict(task.input_data),
            correlation_id=task.correlation_id,
            priority=task.workflow_priority if priority is None else priority,
            idempotency_key=f"{task.task_id}:{task.scheduled_time}:sub_workflow",
            idempotency_strategy=IdempotencyStrategy.RETURN_EXISTING,
        )
        try:
            started = await self._runs.start(
                request, parent_workflow_id=task.workflow_instance_id, parent_workflow_task_id=task.task_id
            )
        except NotFoundError as exc:
            if inline is None and _is_expression(params.name):
                raise NotFoundError(f"subWorkflowParam.name {params.name} resolved to '{name}': {exc.message}") from exc
            raise
        return await self._runs.get(started.workflow_id, include_tasks=False)

    async def _check_depth(self, task: Task) -> None:
        """Refuse a child that would nest deeper than ``max_subworkflow_depth`` (a workflow calling itself)."""
        limit = self._ctx.settings.max_subworkflow_depth
        depth = 1
        parent_id: str | None = task.workflow_instance_id
        while parent_id is not None and depth <= limit:
            parent = await self._ctx.store.get_run(parent_id, include_tasks=False)
            parent_id = parent.parent_workflow_id if parent is not None else None
            if parent_id is not None:
                depth += 1
        if depth > limit:
            raise ValidationError(
                errors=[
                    FieldError(
                        "subWorkflowParam",
                        f"SUB_WORKFLOW '{task.reference_task_name}' would nest deeper than "
                        f"max_subworkflow_depth ({limit})",
                    )
                ]
            )

    async def _target(self, task: Task, params: SubWorkflowParams) -> tuple[str | None, int | None, int | None]:
        """The child's name, version and priority, their expressions resolved against the parent run."""
        raw = {"name": params.name, "version": params.version, "priority": params.priority}
        if not any(_is_expression(value) for value in raw.values()):
            return params.name, _whole(raw, "version"), _whole(raw, "priority")
        parent = await self._ctx.store.get_run(task.workflow_instance_id, include_tasks=True)
        definition = await self._ctx.store.get_run_definition(task.workflow_instance_id)
        if parent is None or definition is None:
            raise workflow_not_found(task.workflow_instance_id)
        document = document_for(parent, schema_version=definition.schema_version)
        resolved = {key: resolve(value, document) for key, value in raw.items()}
        name = resolved["name"]
        if params.workflow_definition is None and (not isinstance(name, str) or not name.strip()):
            raise ValidationError(
                errors=[FieldError("subWorkflowParam.name", f"{params.name} resolved to {name!r}, not a workflow name")]
            )
        return (
            (name if isinstance(name, str) else params.name),
            _whole(resolved, "version"),
            _whole(resolved, "priority"),
        )

    async def start_workflow(self, task: Task) -> str:
        """START_WORKFLOW: start the run its ``startWorkflow`` input asks for, once per task attempt; its id."""
        spec = task.input_data.get("startWorkflow")
        if not isinstance(spec, dict):
            raise ValidationError(errors=[FieldError("inputParameters.startWorkflow", "must be an object")])
        request = convert(
            {k: v for k, v in spec.items() if k in _START_WORKFLOW_FIELDS},
            StartWorkflowRequest,
            what="inputParameters.startWorkflow",
        )
        if not (request.correlation_id and request.correlation_id.strip()):
            request.correlation_id = task.correlation_id
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
            elif signal.kind is SignalKind.RETRY_CHILD:
                await self._retry_child(signal)
            elif signal.kind is SignalKind.CHILD_RETRIED:
                await self._child_retried(signal)
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
        if signal.task_id is not None:
            reason = f"Parent workflow {signal.source_workflow_id} skipped its task {signal.task_id}"
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
        try:
            name = _failure_workflow_name(signal.name, failed)
            request = StartWorkflowRequest(name=name, input=failure_input, correlation_id=failed.correlation_id)
            await self._runs.start(request, workflow_id=signal.target_workflow_id)
        except (NotFoundError, ValidationError) as exc:
            log.warning("failure workflow of run %s not started: %s", failed.workflow_id, exc.message)
            not_started = FailureWorkflowNotStarted(
                failure_workflow_id=signal.target_workflow_id, name=signal.name, reason=exc.message
            )
            await self._ctx.apply_event(failed.workflow_id, not_started)

    async def _retry_child(self, signal: Signal) -> None:
        """Retry the child a resumed SUB_WORKFLOW task waits for; one that cannot be gives its result now."""
        if signal.task_id is None:
            return
        try:
            await self._operations.retry(signal.target_workflow_id, resume_subworkflow_tasks=True, from_parent=True)
        except ConflictError as exc:
            log.info("child %s not retried: %s", signal.target_workflow_id, exc.message)
            await self._report_ended_child(signal.target_workflow_id, signal.source_workflow_id, signal.task_id)
        except NotFoundError:
            result = TaskResult(
                task_id=signal.task_id,
                status=TaskResultStatus.FAILED,
                reason_for_incompletion=f"Sub workflow {signal.target_workflow_id} no longer exists",
            )
            await self._ctx.apply_event(signal.source_workflow_id, TaskResultReceived(result=result))

    async def _child_retried(self, signal: Signal) -> None:
        """The parent's task waits for its retried child again; a child already ended again reports at once."""
        if signal.task_id is None:
            return
        event = ChildRetried(
            task_id=signal.task_id, sub_workflow_id=signal.source_workflow_id, operation=signal.reason or "retried"
        )
        await self._ctx.apply_event(signal.target_workflow_id, event, signals_inline=True)
        await self._report_ended_child(signal.source_workflow_id, signal.target_workflow_id, signal.task_id)

    async def _report_ended_child(self, child_id: str, parent_id: str, parent_task_id: str) -> None:
        child = await self._ctx.store.get_run(child_id, include_tasks=False)
        if child is None or not child.status.is_terminal:
            return
        with contextlib.suppress(ConflictError, NotFoundError):
            await self._ctx.apply_event(parent_id, TaskResultReceived(result=child_result(child, parent_task_id)))


def _failure_workflow_name(name: str, failed: Workflow) -> str:
    """``failureWorkflow`` itself, or what its ``${workflow.input.x}`` expression names in the failed run."""
    if not _is_expression(name):
        return name
    resolved = resolve(name, document_for(failed))
    if not isinstance(resolved, str) or not resolved.strip():
        raise ValidationError(errors=[FieldError("failureWorkflow", f"{name} resolved to {resolved!r}, not a name")])
    return resolved


def _is_expression(value: object) -> bool:
    return isinstance(value, str) and "${" in value


def _whole(values: dict[str, Any], key: str) -> int | None:
    """A resolved ``subWorkflowParam`` number: an int, digits in a string, or None."""
    value = values[key]
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        return int(value)
    raise ValidationError(errors=[FieldError(f"subWorkflowParam.{key}", f"resolved to {value!r}, not a whole number")])


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
