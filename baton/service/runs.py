"""Starting runs (async, sync, idempotent), reading them and ending them."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from typing import Any

from baton.engine import Terminate
from baton.errors import FieldError, ValidationError, workflow_not_found
from baton.model import (
    IdempotencyStrategy,
    StartWorkflowRequest,
    Task,
    TaskStatus,
    TaskType,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
)
from baton.model.arguments import input_errors, input_size
from baton.model.audit import AuditAction, TargetKind
from baton.model.schemas import ON_LOOP_STEPS, OutOfSteps, first_violation, violation_within_bound
from baton.model.validation import start_request_errors
from baton.service.context import ServiceContext
from baton.service.resolver import DefinitionResolver
from baton.service.wakeups import run_key
from baton.store import RunTaskPage, StartResult

MAX_PRIORITY = 99
MAX_TASK_PAGE = 1000
"""Most tasks one page of ``task_page`` holds."""
MAX_CORRELATION_IDS = 1000
"""Most correlation ids one ``correlated_many`` looks up (as many as a bulk operation takes)."""
_BLOCKING_TYPES = frozenset({TaskType.WAIT.value, TaskType.HUMAN.value, TaskType.HTTP_ENDPOINT.value})


@dataclass(frozen=True, kw_only=True)
class ExecuteOutcome:
    run: Workflow
    ended: bool
    """True when the run reached a terminal status before the answer."""


class RunService:
    def __init__(self, ctx: ServiceContext, resolver: DefinitionResolver) -> None:
        self._ctx = ctx
        self._resolver = resolver

    async def start(
        self,
        request: StartWorkflowRequest,
        *,
        workflow_id: str | None = None,
        parent_workflow_id: str | None = None,
        parent_workflow_task_id: str | None = None,
        variables: dict[str, Any] | None = None,
    ) -> StartResult:
        """Create a run; with an idempotency key, at most one run per key (per its strategy).

        ``workflow_id`` starts it under an id chosen beforehand (a failure workflow, a client's choice: an id
        already taken is a ConflictError); the parent fields make it a sub-workflow of that run's task;
        ``variables`` are set over the definition's.
        """
        result, _ = await self._start(
            request,
            workflow_id=workflow_id,
            parent_workflow_id=parent_workflow_id,
            parent_workflow_task_id=parent_workflow_task_id,
            variables=variables,
        )
        return result

    async def start_with_run(
        self, request: StartWorkflowRequest, *, workflow_id: str | None = None, variables: dict[str, Any] | None = None
    ) -> tuple[StartResult, Workflow]:
        """``start``, and the run as its first decision wrote it (meaningful when it was created now)."""
        return await self._start(request, workflow_id=workflow_id, variables=variables)

    async def _start(
        self,
        request: StartWorkflowRequest,
        *,
        workflow_id: str | None = None,
        parent_workflow_id: str | None = None,
        parent_workflow_task_id: str | None = None,
        definition: WorkflowDef | None = None,
        variables: dict[str, Any] | None = None,
        http_request: dict[str, Any] | None = None,
    ) -> tuple[StartResult, Workflow]:
        """``start``, and the run as its first decision made it (what was written, when the run was created).

        ``http_request``: the request that triggered the run, its first step's output (``engine/http_steps.py``).
        """
        if definition is None:
            definition = await self._definition_for(request)
        ctx = self._ctx.decide_context()
        if http_request is not None:
            ctx = replace(ctx, http_request=http_request)
        run = Workflow(
            workflow_id=workflow_id or ctx.new_id(),
            workflow_name=definition.name,
            workflow_version=definition.version,
            correlation_id=request.correlation_id,
            priority=request.priority,
            input={**definition.input_template, **request.input},
            variables={**definition.variables, **(variables or {})},
            create_time=ctx.now,
            start_time=ctx.now,
            update_time=ctx.now,
            idempotency_key=request.idempotency_key,
            created_by=request.created_by,
            parent_workflow_id=parent_workflow_id,
            parent_workflow_task_id=parent_workflow_task_id,
        )
        await _check_input(definition, run.input)
        decision = await self._ctx.decisions.start(definition, run, ctx)
        # A strategy without a key means nothing (Conductor's clients always send one): no idempotency.
        strategy = None
        if request.idempotency_key:
            strategy = request.idempotency_strategy or IdempotencyStrategy.FAIL
        if strategy is not None:  # the run may exist already: nothing to hand out
            result = await self._ctx.store.create_run(decision, definition, idempotency_strategy=strategy)
        else:
            decision, hand = self._ctx.handoffs.take(decision, ctx.now)
            try:
                result = await self._ctx.store.create_run(decision, definition)
            except BaseException:
                hand.released()
                raise
            if hand:
                await self._ctx.requeue(hand.delivered())
        if result.created:
            self._ctx.publish(decision, ctx.now)
        return result, decision.workflow

    async def check_start(self, request: StartWorkflowRequest) -> WorkflowDef:
        """Raise now what ``start`` would refuse before writing (no such definition, a bad request or input), so a
        caller starting several runs changes nothing when one would be refused; the definition it would run."""
        definition = await self._definition_for(request)
        await _check_input(definition, {**definition.input_template, **request.input})
        return definition

    async def start_triggered(
        self, definition: WorkflowDef, request: StartWorkflowRequest, *, workflow_id: str, http_request: dict[str, Any]
    ) -> Workflow:
        """Start a run of ``definition`` (resolved) whose first step, an HTTP_ENDPOINT, completes with
        ``http_request``; the run as its first decision wrote it. An existing ``workflow_id`` is a ConflictError."""
        _check_start_request(request)
        _, run = await self._start(request, workflow_id=workflow_id, definition=definition, http_request=http_request)
        return run

    async def _definition_for(self, request: StartWorkflowRequest) -> WorkflowDef:
        """The resolved definition a start request runs: its inline one, or the registered one it names."""
        _check_start_request(request)
        if request.workflow_def is not None:
            return await self._resolver.inline(request.workflow_def)
        assert request.name is not None
        return await self._resolver.by_name(request.name, request.version)

    async def execute(
        self,
        request: StartWorkflowRequest,
        *,
        wait_until_refs: frozenset[str] = frozenset(),
        wait_for_seconds: float = 10,
        until_suspended: bool = False,
        variables: dict[str, Any] | None = None,
    ) -> ExecuteOutcome:
        """Start a run and answer when it ends, a listed step completes, it blocks on a person, or time runs out.

        ``until_suspended``: answer as soon as it waits on anything outside the server (``is_suspended``: a
        worker too, as Elsa's execute does), not only a person. A ``wait_until_refs`` naming no step of the
        definition is refused before anything is started.
        """
        definition = await self._definition_for(request)
        _check_wait_refs(definition, wait_until_refs)
        started, first = await self._start(request, definition=definition, variables=variables)
        # The run as its start wrote it: the first look needs no read (an existing run, by its key, is read).
        return await self.settle(
            started.workflow_id,
            wait_for_seconds=wait_for_seconds,
            wait_until_refs=wait_until_refs,
            until_suspended=until_suspended,
            known=first if started.created else None,
        )

    async def settle(
        self,
        workflow_id: str,
        *,
        wait_for_seconds: float,
        wait_until_refs: frozenset[str] = frozenset(),
        until_suspended: bool = False,
        known: Workflow | None = None,
    ) -> ExecuteOutcome:
        """Wait until the run ends, a listed step completes, it blocks (on a person; with ``until_suspended``, on
        anything outside the server), or ``wait_for_seconds`` pass; the run as it then is, with its tasks.

        ``known``: the run as the caller just wrote it, so the first look reads nothing.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_for_seconds
        with (
            self._ctx.notifier.listen(run_key(workflow_id)) as waiter,
            self._ctx.run_ends.watch(workflow_id) as end,
        ):
            while True:
                run = end.run or known or await self.get(workflow_id, include_tasks=True)
                known = None
                if run.status.is_terminal:
                    return ExecuteOutcome(run=run, ended=True)
                if _reached(run, wait_until_refs) or _blocked(run) or (until_suspended and is_suspended(run)):
                    return ExecuteOutcome(run=run, ended=False)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return ExecuteOutcome(run=run, ended=False)
                # Re-read at least once a second: a change made by another process wakes nobody here.
                await waiter.wait(min(remaining, 1.0))

    async def get(self, workflow_id: str, *, include_tasks: bool = True, task_limit: int | None = None) -> Workflow:
        """The run; with ``task_limit``, only its first tasks (read them on with ``tasks_after``)."""
        run = await self._ctx.store.get_run(workflow_id, include_tasks=include_tasks, task_limit=task_limit)
        if run is None:
            raise workflow_not_found(workflow_id)
        return run

    async def get_json(self, workflow_id: str, task_limit: int) -> tuple[str, list[tuple[int, str]]]:
        """The run's header JSON and ``(seq, JSON)`` of its first ``task_limit`` tasks, as stored."""
        found = await self._ctx.store.get_run_json(workflow_id, task_limit)
        if found is None:
            raise workflow_not_found(workflow_id)
        return found

    async def task_json_after(self, workflow_id: str, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """``(seq, JSON)`` of the next ``limit`` tasks of a run sent a page at a time (none once the run is gone)."""
        return await self._ctx.store.run_task_json_after(workflow_id, after_seq, limit)

    async def task_page(
        self, workflow_id: str, *, start: int, count: int, statuses: Collection[TaskStatus] = ()
    ) -> RunTaskPage:
        """``GET /api/workflow/{id}/tasks``: a page of the run's tasks, in order, filtered by status."""
        errors: list[FieldError] = []
        if start < 0:
            errors.append(FieldError("start", "must not be negative"))
        if not 0 <= count <= MAX_TASK_PAGE:
            errors.append(FieldError("count", f"must be between 0 and {MAX_TASK_PAGE}"))
        if errors:
            raise ValidationError(errors=errors)
        wanted = [status.value for status in statuses]
        page = await self._ctx.store.run_tasks(workflow_id, start=start, count=count, statuses=wanted)
        if page is None:
            raise workflow_not_found(workflow_id)
        return page

    async def definition_of(self, workflow_id: str) -> WorkflowDef:
        definition = await self._ctx.store.get_run_definition(workflow_id)
        if definition is None:
            raise workflow_not_found(workflow_id)
        return definition

    async def correlated(
        self, name: str, correlation_id: str, *, include_closed: bool, include_tasks: bool
    ) -> list[Workflow]:
        return await self._ctx.store.find_runs_by_correlation(
            name, correlation_id, include_closed=include_closed, include_tasks=include_tasks
        )

    async def correlated_many(
        self, name: str, correlation_ids: Sequence[str], *, include_closed: bool, include_tasks: bool
    ) -> dict[str, list[Workflow]]:
        """``correlated`` for each id (each once, in the order given)."""
        if len(correlation_ids) > MAX_CORRELATION_IDS:
            raise ValidationError(
                errors=[FieldError("body", f"must list at most {MAX_CORRELATION_IDS} correlation ids")]
            )
        return {
            correlation_id: await self.correlated(
                name, correlation_id, include_closed=include_closed, include_tasks=include_tasks
            )
            for correlation_id in dict.fromkeys(correlation_ids)
        }

    async def terminate(self, workflow_id: str, reason: str | None) -> None:
        await self._ctx.apply_event(workflow_id, Terminate(reason=reason))
        await self._ctx.audit.record(AuditAction.RUN_TERMINATED, TargetKind.RUN, workflow_id, {"reason": reason})

    async def remove(self, workflow_id: str) -> None:
        if not await self._ctx.store.delete_run(workflow_id):
            raise workflow_not_found(workflow_id)
        await self._ctx.audit.record(AuditAction.RUN_REMOVED, TargetKind.RUN, workflow_id)


def _check_start_request(request: StartWorkflowRequest) -> None:
    errors: list[FieldError] = []
    if request.workflow_def is None and not (request.name and request.name.strip()):
        errors.append(FieldError("name", "is required (or an inline workflowDef)"))
    if not 0 <= request.priority <= MAX_PRIORITY:
        errors.append(FieldError("priority", f"must be between 0 and {MAX_PRIORITY}"))
    if request.version is not None and request.version < 0:
        errors.append(FieldError("version", "must not be negative"))
    errors.extend(start_request_errors(request.name, request.version, request.correlation_id, request.idempotency_key))
    if errors:
        raise ValidationError(errors=errors)


async def _check_input(definition: WorkflowDef, value: dict[str, Any]) -> None:
    """A start's input against the definition's declared ``inputs`` and its enforced ``inputSchema``: a 400
    naming the field at fault.

    Checked on the loop within ``ON_LOOP_STEPS`` (an input's array items counting one each); a longer check goes
    to a thread.
    """
    if definition.inputs:
        if input_size(definition.inputs, value) <= ON_LOOP_STEPS:
            errors = input_errors(definition.inputs, value)
        else:
            errors = await asyncio.to_thread(input_errors, definition.inputs, value)
        if errors:
            raise ValidationError(errors=errors)
    schema = definition.input_schema
    if not definition.enforce_schema or schema is None or schema.data is None:
        return
    try:
        found = first_violation(schema.data, value, "input", max_steps=ON_LOOP_STEPS)
    except OutOfSteps:
        found = await asyncio.to_thread(violation_within_bound, schema.data, value, "input")
    if found is not None:
        raise ValidationError(errors=[found])


_LOOP_ITERATION = re.compile(r"__\d+$")


def _check_wait_refs(definition: WorkflowDef, refs: frozenset[str]) -> None:
    """Each of ``refs`` is a step of ``definition`` (a loop's ``ref__N`` counts as ``ref``). A dynamic fork's
    branches are named by its input, so with one in the definition any name may be one of them."""
    if not refs:
        return
    steps = definition.all_tasks()
    if any(step.type == TaskType.FORK_JOIN_DYNAMIC.value for step in steps):
        return
    known = {step.task_reference_name for step in steps}
    unknown = sorted(ref for ref in refs if _LOOP_ITERATION.sub("", ref) not in known)
    if unknown:
        names = ", ".join(f"'{ref}'" for ref in unknown)
        message = f"names no task of workflow '{definition.name}' version {definition.version}: {names}"
        raise ValidationError(errors=[FieldError("waitUntilTaskRef", message)])


def _reached(run: Workflow, refs: frozenset[str]) -> bool:
    return bool(refs) and any(t.reference_task_name in refs and t.status.is_successful for t in run.tasks)


def _blocked(run: Workflow) -> bool:
    return any(t.task_type in _BLOCKING_TYPES and not t.status.is_terminal for t in run.tasks)


def waits_outside(task: Task) -> bool:
    """A pending step that waits on something outside the server: a worker, a timer, a person, an event or an
    HTTP request."""
    return not task.status.is_terminal and (task.task_type in _BLOCKING_TYPES or task.is_worker_task)


def is_suspended(run: Workflow) -> bool:
    """Whether a run that has not ended is paused or waits outside the server (``waits_outside``): Elsa's
    ``Suspended``, where otherwise it is ``Executing``."""
    return run.status is WorkflowStatus.PAUSED or any(waits_outside(task) for task in run.tasks)
