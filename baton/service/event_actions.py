"""Acting on a published event: every active handler of its name whose condition holds runs its actions.

An EVENT_PUBLISHED signal (``service.events.publish``) carries the event's name and
payload. ``handle`` reads the handlers listening on that name (active ones only),
evaluates each one's ``condition`` over the payload as ``$`` (JavaScript in the
sandbox, bounded like a SWITCH's script; ``value-param`` reads the payload's key
named by the condition; a value is true when it is ``true`` or a number above 0,
as Conductor's ``ScriptEvaluator.toBoolean``), and runs each action through the
service: start a run, complete or fail a task (by ``taskId``, or by run and
reference name), terminate a run, update a run's variables. Every parameter is
resolved with ``${...}`` expressions over the payload first (``${workflowInstanceId}``
and ``${$.workflowInstanceId}`` alike, as Conductor's ``ParametersUtils.replace``).

Once, across crashes: the signal is in the outbox until every handler is done, and
each action's outcome is recorded (``EventExecution``, id ``<signal>_<handler>_<index>``)
as soon as it ran; a signal taken up again (by the relay, after a crash) skips what
is recorded. An action that ran but whose record was lost runs again, and each kind
tolerates that: a start uses the execution id as its idempotency key, a task that
already has its result and a run already ended refuse a second one, and setting
variables twice sets them once (``appendArray`` would append twice: the one window
left). An action that fails (no such workflow, no such task, a run already ended)
is logged and recorded FAILED with the reason, and is not tried again; a condition
that cannot be evaluated is recorded the same way and its handler's actions are
not run. A store failure leaves the signal for the relay.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any

import msgspec

from baton.engine import Signal
from baton.engine.evaluations import InProcess, Request
from baton.engine.expressions import resolve
from baton.errors import BatonError, FieldError, NotFoundError, StoreError, ValidationError
from baton.model import IdempotencyStrategy, StartWorkflowRequest, TaskResult, TaskResultStatus
from baton.model.events import (
    Action,
    ActionKind,
    EventExecution,
    EventHandler,
    ExecutionStatus,
    TaskDetails,
)
from baton.model.validation import NAME_MAX_LENGTH
from baton.sandbox.results import ScriptResult
from baton.service.context import ServiceContext
from baton.service.operations import OperationService
from baton.service.runs import RunService
from baton.service.tasks import TaskService

log = logging.getLogger(__name__)

MESSAGE_ID = "conductor.event.messageId"
EVENT_NAME = "conductor.event.name"
_encode = msgspec.json.Encoder().encode


class EventActions:
    def __init__(self, ctx: ServiceContext, runs: RunService, tasks: TaskService, operations: OperationService) -> None:
        self._ctx = ctx
        self._runs = runs
        self._tasks = tasks
        self._operations = operations

    async def handle(self, signal: Signal) -> None:
        """Run the actions of every matching handler not yet recorded for this event, then remove the signal."""
        store = self._ctx.store
        event = signal.name or ""
        payload = signal.payload or {}
        done = {execution.id for execution in await store.event_executions(signal.signal_id)}
        for handler in await store.list_event_handlers(event, active_only=True):
            await self._run_handler(handler, signal.signal_id, event, payload, done)
        await store.delete_signal(signal.signal_id)

    async def _run_handler(
        self, handler: EventHandler, message_id: str, event: str, payload: dict[str, Any], done: set[str]
    ) -> None:
        prefix = f"{message_id}_{handler.name}"
        if all(f"{prefix}_{index}" in done for index in range(len(handler.actions))) or f"{prefix}_condition" in done:
            return
        holds, error = await self._condition_holds(handler, payload)
        if not holds:
            output: dict[str, Any] = {"condition": handler.condition}
            if error is not None:
                output["exception"] = error
                log.warning("event %s: condition of handler %s failed: %s", event, handler.name, error)
            status = ExecutionStatus.SKIPPED if error is None else ExecutionStatus.FAILED
            await self._record(f"{prefix}_condition", message_id, handler, event, status, None, output)
            return
        for index, action in enumerate(handler.actions):
            execution_id = f"{prefix}_{index}"
            if execution_id in done:
                continue
            try:
                output = await self._act(action, execution_id, message_id, event, payload)
                status = ExecutionStatus.COMPLETED
            except StoreError:
                raise
            except BatonError as exc:
                log.warning("event %s: action %d of handler %s failed: %s", event, index, handler.name, exc.message)
                output, status = {"exception": exc.message}, ExecutionStatus.FAILED
            except (RecursionError, TypeError, ValueError) as exc:
                # A payload no action can take (JSON nested past Python's recursion limit in an inline-JSON
                # string): recorded like any failure, so the event cannot come back forever.
                log.warning("event %s: action %d of handler %s failed: %r", event, index, handler.name, exc)
                output, status = {"exception": repr(exc)}, ExecutionStatus.FAILED
            await self._record(execution_id, message_id, handler, event, status, action.action, output)

    async def _record(
        self,
        execution_id: str,
        message_id: str,
        handler: EventHandler,
        event: str,
        status: ExecutionStatus,
        action: ActionKind | None,
        output: dict[str, Any],
    ) -> None:
        execution = EventExecution(
            id=execution_id,
            message_id=message_id,
            name=handler.name,
            event=event,
            created=self._ctx.clock(),
            status=status,
            action=action,
            output=output,
        )
        await self._ctx.store.add_event_executions([execution])

    # -- conditions ----------------------------------------------------------------

    async def _condition_holds(self, handler: EventHandler, payload: dict[str, Any]) -> tuple[bool, str | None]:
        """Whether the handler's condition holds for ``payload`` (no condition holds), or why it could not tell."""
        condition = handler.condition
        if not condition or not condition.strip():
            return True, None
        try:
            expanded = expand_inline_json(payload)
            if handler.evaluator_type == "value-param":
                value = expanded.get(condition) if isinstance(expanded, dict) else None
                return _truthy(value), None
            input_json = _encode(expanded)
        except (RecursionError, TypeError, ValueError) as exc:
            return False, f"the payload cannot be given to the condition: {exc!r}"
        result = await self._script(Request(kind="javascript", source=condition, input_json=input_json))
        if result.error is not None:
            return False, result.error
        return _truthy(result.value), None

    async def _script(self, request: Request) -> ScriptResult:
        evaluate = self._ctx.evaluate
        if evaluate is not None:
            result = await evaluate(request)
        else:
            settings = self._ctx.settings
            local = InProcess(
                script_timeout_ms=settings.script_timeout_ms, script_memory_bytes=settings.script_memory_bytes
            )
            result = await asyncio.to_thread(local.evaluate, request)
        assert isinstance(result, ScriptResult)
        return result

    # -- actions -------------------------------------------------------------------

    async def _act(
        self, action: Action, execution_id: str, message_id: str, event: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """Do one action; what it did (its output), or a BatonError saying why not."""
        document = expand_inline_json(payload) if action.expand_inline_json else payload
        kind = action.action
        if kind is ActionKind.START_WORKFLOW and action.start_workflow is not None:
            params = action.start_workflow
            request = StartWorkflowRequest(
                name=params.name,
                version=params.version,
                correlation_id=_text(resolve(params.correlation_id, document)) or None,
                input={**resolve(params.input, document), MESSAGE_ID: message_id, EVENT_NAME: event},
                task_to_domain=dict(params.task_to_domain),
                idempotency_key=_start_key(execution_id),
                idempotency_strategy=IdempotencyStrategy.RETURN_EXISTING,
            )
            started = await self._runs.start(request)
            return {"workflowId": started.workflow_id}
        if kind is ActionKind.COMPLETE_TASK and action.complete_task is not None:
            return await self._end_task(action.complete_task, TaskResultStatus.COMPLETED, message_id, event, document)
        if kind is ActionKind.FAIL_TASK and action.fail_task is not None:
            return await self._end_task(action.fail_task, TaskResultStatus.FAILED, message_id, event, document)
        if kind is ActionKind.TERMINATE_WORKFLOW and action.terminate_workflow is not None:
            terminate = action.terminate_workflow
            workflow_id = _required(resolve(terminate.workflow_id, document), "terminate_workflow.workflowId")
            reason = _text(resolve(terminate.termination_reason, document)) or f"Terminated by event {event}"
            await self._runs.terminate(workflow_id, reason)
            return {"workflowId": workflow_id}
        if kind is ActionKind.UPDATE_WORKFLOW_VARIABLES and action.update_workflow_variables is not None:
            update = action.update_workflow_variables
            workflow_id = _required(resolve(update.workflow_id, document), "update_workflow_variables.workflowId")
            variables = resolve(update.variables, document)
            await self._operations.update_variables(workflow_id, variables, append_array=update.append_array)
            return {"workflowId": workflow_id, "variables": variables}
        raise ValidationError(f"action {kind.value if kind else None} has no parameters")

    async def _end_task(
        self, details: TaskDetails, status: TaskResultStatus, message_id: str, event: str, document: Any
    ) -> dict[str, Any]:
        """Conductor's complete_task/fail_task: the task's output is the resolved parameters and output."""
        replaced = resolve(
            {
                "workflowId": details.workflow_id,
                "taskId": details.task_id,
                "taskRefName": details.task_ref_name,
                **details.output,
            },
            document,
        )
        output = {**replaced, MESSAGE_ID: message_id, EVENT_NAME: event}
        task_id, workflow_id, ref = (_text(replaced.get(key)) for key in ("taskId", "workflowId", "taskRefName"))
        if task_id:
            result = TaskResult(task_id=task_id, status=status, output_data=output)
            await self._tasks.update(result)
        elif workflow_id and ref:
            task_id = await self._tasks.complete_by_ref(workflow_id, ref, status, output)
        else:
            raise NotFoundError(
                f"No task found with taskId: {task_id or None}, reference name: {ref or None}, "
                f"workflowId: {workflow_id or None}"
            )
        return {**replaced, "taskId": task_id}


def expand_inline_json(value: Any) -> Any:
    """Conductor's ``expandInlineJSON``: strings that hold a JSON object or list become that value, throughout."""
    if isinstance(value, dict):
        return {key: expand_inline_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [expand_inline_json(item) for item in value]
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return expand_inline_json(msgspec.json.decode(value))
        except msgspec.DecodeError:
            return value
    return value


def _start_key(execution_id: str) -> str:
    """A start's idempotency key: its execution's id, or that id's sha256 when it is longer than a key may be."""
    if len(execution_id) <= NAME_MAX_LENGTH:
        return execution_id
    return hashlib.sha256(execution_id.encode()).hexdigest()


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value > 0
    return False


def _text(value: Any) -> str:
    """A resolved parameter as text: None and blanks become ''."""
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


def _required(value: Any, field: str) -> str:
    text = _text(value)
    if not text:
        raise ValidationError(f"{field} resolved to {value!r}", [FieldError(field, f"resolved to {value!r}")])
    return text
