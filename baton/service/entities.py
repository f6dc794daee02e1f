"""Ballerine's runs about an entity: start one (``POST /api/v1/external/workflows/run``), read it, its context,
and send it an event.

The context is the run's input (``{entity, documents, ...}``), also set as the run's variables when it starts,
so a step reads the current context as ``${workflow.variables.documents}``; an event's payload is merged into
the variables by the decision that completes the step waiting for it (one write, computed from the run that
decision locks), so the step after it reads the merged context and concurrent events lose nothing. What
a route shows as the context is the run's input with its variables over it (a run started elsewhere, whose
variables were never set, shows its input).

One active run per entity and workflow: a start takes an idempotency key made of both with the
``FAIL_ON_RUNNING`` strategy, in the start's own transaction, so concurrent starts on any number of servers
create one run, and the others return it; once it has ended the next start takes the key over.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from baton.errors import ConflictError, FieldError, NotFoundError, ValidationError
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
from baton.model.cases import DECISIONS, CaseRecord, Entity
from baton.model.triggers import waited_event
from baton.service.context import ServiceContext
from baton.service.entity_context import (
    check_config,
    check_context,
    check_inputs,
    entity_name,
    merge_payload,
    with_document_ids,
    with_payload_ids,
)
from baton.service.runs import RunService
from baton.service.waits import WaitService
from baton.store import WaitingTask

_CONTROL_TYPES = frozenset(
    {
        TaskType.DO_WHILE.value,
        TaskType.FORK_JOIN.value,
        TaskType.FORK_JOIN_DYNAMIC.value,
        TaskType.JOIN.value,
        TaskType.EXCLUSIVE_JOIN.value,
        "FORK",
    }
)
_LOOP_ITERATION = re.compile(r"(?:__\d+)+$")


class WebhookSink(Protocol):
    """What the outgoing webhooks (``service/webhooks.py``) take from here: a run about to start and a run started
    (with its subscriptions). They hear of its changes from its decisions (RUN_CHANGED, RUN_ENDED)."""

    def watch(self, workflow_id: str) -> None: ...

    def unwatch(self, workflow_id: str) -> None: ...

    async def started(self, run: Workflow, subscriptions: list[dict[str, Any]] | None) -> None: ...


WebhookSource = Callable[[], WebhookSink | None]
"""The webhooks, when the server has them (``getattr(baton, "webhooks", None)``)."""


@dataclass(frozen=True, kw_only=True)
class Started:
    """What a start through Ballerine's API answers: the run, its entity, and whether it was created now."""

    workflow_name: str
    workflow_id: str
    entity: Entity
    created: bool
    entities: list[dict[str, str]]


@dataclass(frozen=True, kw_only=True)
class Runtime:
    """A run as Ballerine's routes show it: ``state`` is its case state, or its pending step's reference."""

    run: Workflow
    record: CaseRecord | None
    entity: Entity | None
    is_case: bool
    state: str
    context: dict[str, Any]


class EntityRuns:
    def __init__(
        self,
        ctx: ServiceContext,
        runs: RunService,
        waits: WaitService,
        webhooks: WebhookSource,
    ) -> None:
        self._ctx = ctx
        self._runs = runs
        self._waits = waits
        self._webhooks = webhooks

    async def latest_definition(self, name: Any, field: str = "workflowId") -> WorkflowDef:
        if not isinstance(name, str) or not name.strip():
            raise ValidationError(errors=[FieldError(field, "is required: the name of a workflow definition")])
        definition = await self._ctx.store.get_workflow_def(name)
        if definition is None:
            raise NotFoundError(f"No workflow definition named '{name}'")
        return definition

    async def run(self, workflow_name: Any, context: Any, config: Any) -> Started:
        """Start the latest version of ``workflow_name`` about the context's entity, or return the entity's
        active run of it (unless ``config.allowMultipleActiveWorkflows``)."""
        definition = await self.latest_definition(workflow_name)
        checked_config = check_config(config)
        default_type = definition.case.entity_type if definition.case is not None else None
        checked = check_context(context, entity_id_required=True, default_type=default_type)
        check_inputs(definition, checked)
        return await self.start(definition, checked, checked_config)

    async def start(self, definition: WorkflowDef, context: dict[str, Any], config: dict[str, Any]) -> Started:
        """Start a run of ``definition`` on a checked context (``check_context``) and config (``check_config``)."""
        entity = await self._entity_of(context["entity"])
        named = {
            "type": entity.entity_type,
            **context["entity"],
            "id": entity.external_id,
            "ballerineEntityId": entity.entity_id,
        }
        context = {**context, "entity": named}
        context["documents"] = with_document_ids(context.get("documents", []), self._ctx.new_id)
        key = None
        if not config.get("allowMultipleActiveWorkflows"):
            digest = hashlib.sha256(f"{definition.name}\x00{entity.entity_id}".encode()).hexdigest()
            key = f"ballerine-active:{digest}"
        entities = (
            [{"type": entity.entity_type, "id": entity.entity_id}] if config.get("createCollectionFlowToken") else []
        )
        request = StartWorkflowRequest(
            name=definition.name,
            version=definition.version,
            input=context,
            correlation_id=entity.external_id,
            idempotency_key=key,
            idempotency_strategy=IdempotencyStrategy.FAIL_ON_RUNNING if key else None,
        )
        webhooks = self._webhooks()
        watched = webhooks if webhooks is not None and config.get("subscriptions") else None
        for _ in range(3):
            workflow_id = self._ctx.new_id()
            if watched is not None:
                watched.watch(workflow_id)  # its decisions tell its changes from the first one on
            try:
                result, first = await self._runs.start_with_run(request, workflow_id=workflow_id, variables=context)
            except ConflictError:
                if watched is not None:
                    watched.unwatch(workflow_id)
                if key is None:
                    raise
                holder = await self._active_holder(key)
                if holder is None:
                    continue  # it ended meanwhile: the next start takes its key over
                return Started(
                    workflow_name=definition.name, workflow_id=holder, entity=entity, created=False, entities=entities
                )
            if result.created:
                await self._started(first, definition, entity, context, config)
            elif watched is not None:
                watched.unwatch(workflow_id)
            return Started(
                workflow_name=definition.name,
                workflow_id=result.workflow_id,
                entity=entity,
                created=result.created,
                entities=entities,
            )
        raise ConflictError(f"The active run of '{definition.name}' for entity {entity.entity_id} kept changing")

    async def _active_holder(self, key: str) -> str | None:
        holder = await self._ctx.store.run_holding_key(key)
        if holder is None:
            return None
        run = await self._ctx.store.get_run(holder, include_tasks=False)
        return holder if run is not None and not run.status.is_terminal else None

    async def _entity_of(self, entity: dict[str, Any]) -> Entity:
        known = entity.get("ballerineEntityId")
        if known:
            found = await self._ctx.store.get_entity(known)
            if found is None:
                message = f"No entity with ballerineEntityId '{known}'"
                raise ValidationError(errors=[FieldError("context.entity.ballerineEntityId", message)])
            return found
        external_id = entity.get("id") or self._ctx.new_id()
        return await self._ctx.store.entity_for(entity["type"], external_id, self._ctx.new_id(), self._ctx.clock())

    async def _started(
        self,
        first: Workflow,
        definition: WorkflowDef,
        entity: Entity,
        context: dict[str, Any],
        config: dict[str, Any],
    ) -> None:
        workflow_id = first.workflow_id
        record = CaseRecord(
            workflow_id=workflow_id,
            workflow_name=definition.name,
            created_at=self._ctx.clock(),
            entity_id=entity.entity_id,
            entity_name=entity_name(context["entity"]),
            config=config,
        )
        await self._ctx.store.add_case(record)
        webhooks = self._webhooks()
        if webhooks is not None:
            await webhooks.started(first, config.get("subscriptions"))
        initial = config.get("initialEvent")
        if initial:
            await self._waits.deliver_event(initial, {}, workflow_id=workflow_id)

    async def runtime(self, workflow_id: str) -> Runtime:
        run = await self._ctx.store.get_run(workflow_id, include_tasks=True)
        if run is None:
            raise NotFoundError(f"No resource with id [{workflow_id}] was found")
        definition = await self._runs.definition_of(workflow_id)
        record = await self._ctx.store.get_case(workflow_id)
        entity = None
        if record is not None and record.entity_id is not None:
            entity = await self._ctx.store.get_entity(record.entity_id)
        case = is_case(definition)
        state = case_state(run, decision_of(run)) if case else step_state(run)
        return Runtime(run=run, record=record, entity=entity, is_case=case, state=state, context=context_of(run))

    async def event(self, workflow_id: str, name: Any, payload: Any) -> Runtime:
        """Deliver event ``name`` to the run's step waiting for it, its payload merged into the context in the
        decision that completes the step (one write, computed from the run that decision locks)."""
        if not isinstance(name, str) or not name:
            raise ValidationError(errors=[FieldError("name", "is required: the event's name")])
        if payload is None:
            payload = {}
        if not isinstance(payload, dict):
            raise ValidationError(errors=[FieldError("payload", "must be a JSON object")])
        before = await self.runtime(workflow_id)
        waiting = await self._waits.waited_events(workflow_id)
        if not any(waited_event(step.input_data, step.reference_task_name) == name for step in waiting):
            raise ValidationError(errors=[FieldError("name", not_awaited(name, before, waiting))])
        # The step's output is the payload as sent; the context gets its documents with ids given now, so that
        # the merge is a pure function of the run.
        merge = payload_merge(with_payload_ids(payload, self._ctx.new_id)) if payload else None
        delivered = await self._waits.deliver_event(name, payload, workflow_id=workflow_id, merge_variables=merge)
        if not delivered:
            raise ValidationError(errors=[FieldError("name", not_awaited(name, before, []))])
        return await self.runtime(workflow_id)


# -- the rules, as plain functions ------------------------------------------------------------


def is_case(definition: WorkflowDef) -> bool:
    """A run of ``definition`` is a case: it says so (``case``), or it has a HUMAN step."""
    return definition.case is not None or any(step.type == TaskType.HUMAN.value for step in definition.all_tasks())


def state_of(definition: WorkflowDef | None, run: Workflow) -> str:
    """What Ballerine shows as the run's state: a case's (``case_state``), or its pending step (``step_state``)."""
    return case_state(run, decision_of(run)) if definition is not None and is_case(definition) else step_state(run)


def decision_of(run: Workflow) -> str | None:
    """A case's last decision, as its run holds it: the ``decision`` of its latest completed HUMAN step that has
    one (``approve``, ``reject``, ``revision``). Written with the step, so what follows from it (a state, its
    webhook) never waits for another write."""
    latest: Task | None = None
    for task in run.tasks:
        if (
            task.task_type == TaskType.HUMAN.value
            and task.status is TaskStatus.COMPLETED
            and task.output_data.get("decision") in DECISIONS
            and (latest is None or task.seq > latest.seq)
        ):
            latest = task
    return None if latest is None else str(latest.output_data["decision"])


def case_state(run: Workflow, last_decision: str | None) -> str:
    """A case's state, from its run and its last decision (``decision_of``; the store's case list derives it the
    same way from the decision recorded beside the run)."""
    if run.status in (WorkflowStatus.FAILED, WorkflowStatus.TIMED_OUT, WorkflowStatus.TERMINATED):
        return "failed"
    decided = {"approve": "approved", "reject": "rejected"}
    if run.status is WorkflowStatus.COMPLETED:
        return decided.get(last_decision or "", "completed")
    pending = {t.task_type for t in run.tasks if not t.status.is_terminal}
    if TaskType.HUMAN.value in pending:
        return "manual_review"
    if last_decision == "revision":
        # Sent back: waiting for what was asked for; once it came, the case is being processed again.
        return "revision" if TaskType.WAIT.value in pending else "pending_process"
    return decided.get(last_decision or "", "pending_process")


def step_state(run: Workflow) -> str:
    """A run that is not a case: the reference of its first pending step (loop iterations by their step's name),
    or how it ended."""
    if run.status.is_terminal:
        return "completed" if run.status is WorkflowStatus.COMPLETED else "failed"
    for task in run.tasks:
        if not task.status.is_terminal and task.task_type not in _CONTROL_TYPES:
            return _LOOP_ITERATION.sub("", task.reference_task_name)
    return "pending_process"


def runtime_status(status: WorkflowStatus) -> str:
    """Ballerine's ``active | completed | failed``."""
    if not status.is_terminal:
        return "active"
    return "completed" if status is WorkflowStatus.COMPLETED else "failed"


def context_of(run: Workflow) -> dict[str, Any]:
    return {**run.input, **run.variables}


def payload_merge(payload: dict[str, Any]) -> Callable[[Workflow], dict[str, Any]]:
    """The variables an event's payload sets, computed from the run its step's decision is made on: each key of
    the payload, merged into the context as it is then (``merge_payload``)."""

    def merge(run: Workflow) -> dict[str, Any]:
        merged = merge_payload(context_of(run), payload)
        return {key: merged[key] for key in payload}

    return merge


def not_awaited(name: str, runtime: Runtime, waiting: list[WaitingTask]) -> str:
    """The 400's words for an event no step of the run waits for: what it does wait on."""
    prefix = f"Event '{name}' is not awaited by workflow {runtime.run.workflow_id}"
    if not waiting:
        return f"{prefix}: no step of it waits for an event (state: {runtime.state})"
    steps = ", ".join(
        f"step '{step.reference_task_name}' (event '{waited_event(step.input_data, step.reference_task_name)}')"
        for step in waiting
    )
    return f"{prefix}: it waits on {steps}"
