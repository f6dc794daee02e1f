"""Cases: runs that involve people (Ballerine's back office under ``/api/v1/internal``, ``/filters``,
``/case-management``).

A case is a run whose definition says it is one (``case``) or has a HUMAN step. Its state comes from its run
and its decisions (``entities.case_state``): ``manual_review`` while a HUMAN step waits, then the reviewer's
``approve`` / ``reject`` (``approved``, ``rejected``), ``revision`` while a revision waits (a WAIT step) for
what it asked for, ``pending_process`` while automated steps run, ``completed`` / ``failed`` when it ended
without (or against) a decision. A decision completes the pending HUMAN step with ``{decision, reason,
reviewer}``; the definition decides what follows (a revision loops back to the step that collects documents).
Every change to the context (a document's decision, approve's and reject's on every document) is made in one
decision computed from the run it locks (``merge_variables``), so changes made at once lose nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from baton.engine.events import MergeVariables
from baton.errors import FieldError, NotFoundError, ValidationError, workflow_not_found
from baton.model import TaskResult, TaskResultStatus, TaskType, Workflow, WorkflowDef
from baton.model.audit import AuditAction, TargetKind
from baton.model.cases import (
    CASE_STATES,
    DECISIONS,
    CaseDecision,
    CaseFilter,
    CasePage,
    CaseQuery,
    CaseRecord,
)
from baton.model.validation import name_problem
from baton.service.acting import check_may_decide_in, current_principal
from baton.service.context import ServiceContext
from baton.service.entities import EntityRuns, Runtime, Started, context_of, is_case
from baton.service.entity_context import check_context, check_inputs
from baton.service.operations import OperationService
from baton.service.tasks import TaskService
from baton.service.waits import WaitService

MAX_PAGE_SIZE = 1000
FILTER_ENTITIES = {"businesses": "business", "individuals": "individual"}
"""A filter's ``entity`` and the entity type it lists."""
FILTER_QUERY_KEYS = frozenset({"queue", "state", "assigneeId", "workflowId", "status"})
ORDER_FIELDS = ("createdAt", "updatedAt")
RUN_STATUSES = {
    "active": ["RUNNING", "PAUSED"],
    "completed": ["COMPLETED"],
    "failed": ["FAILED", "TIMED_OUT", "TERMINATED"],
}
"""Ballerine's run statuses and Baton's behind each."""
DOCUMENT_DECISIONS = {"approve": "approved", "reject": "rejected", "revision": "revision", "revised": "revised"}
_REASON_FIELD = {"rejected": "rejectionReason", "revision": "revisionReason"}


@dataclass(frozen=True, kw_only=True)
class CaseListArgs:
    """The case list's arguments as a route reads them (each None when not given)."""

    filter_id: str | None = None
    page_number: int = 1
    page_size: int = 20
    search: str | None = None
    order_by: str | None = None
    queue: str | None = None
    states: list[str] | None = None
    assignee: str | None = None
    statuses: list[str] | None = None
    workflow: str | None = None


@dataclass(frozen=True, kw_only=True)
class CaseList:
    page: CasePage
    total_pages: int


@dataclass(frozen=True, kw_only=True)
class Case:
    """A case as the back office shows it: its run as Ballerine sees it, and its decisions."""

    runtime: Runtime
    decisions: list[CaseDecision]
    queue: str | None


class CaseService:
    def __init__(
        self,
        ctx: ServiceContext,
        entities: EntityRuns,
        operations: OperationService,
        tasks: TaskService,
        waits: WaitService,
    ) -> None:
        self._ctx = ctx
        self._entities = entities
        self._operations = operations
        self._tasks = tasks
        self._waits = waits

    # -- the list and its filters ------------------------------------------------------------

    async def list_cases(self, args: CaseListArgs) -> CaseList:
        """A page of cases (``page_number`` from 1); a page past the last is a NotFoundError "Page not found"."""
        errors: list[FieldError] = []
        if args.page_number < 1:
            errors.append(FieldError("page[number]", "must be 1 or more"))
        if not 1 <= args.page_size <= MAX_PAGE_SIZE:
            errors.append(FieldError("page[size]", f"must be between 1 and {MAX_PAGE_SIZE}"))
        order_by, descending = "createdAt", True
        if args.order_by:
            field, _, way = args.order_by.partition(":")
            if field not in ORDER_FIELDS or way not in ("", "asc", "desc"):
                message = f"must be <field>:<asc|desc> with a field of {', '.join(ORDER_FIELDS)}"
                errors.append(FieldError("orderBy", message))
            order_by, descending = field, way != "asc"
        query: dict[str, Any] = {}
        entity: str | None = None
        if args.filter_id:
            saved = await self._ctx.store.get_filter(args.filter_id)
            if saved is None:
                errors.append(FieldError("filterId", f"no filter has the id '{args.filter_id}'"))
            else:
                query, entity = saved.query, saved.entity
        _extend(query, "queue", args.queue)
        _extend(query, "state", args.states)
        _extend(query, "assigneeId", args.assignee)
        _extend(query, "status", args.statuses)
        _extend(query, "workflowId", args.workflow)
        errors.extend(_query_errors(query, "filter"))
        if errors:
            raise ValidationError(errors=errors)
        definitions = [d for d in await self._latest_definitions() if is_case(d) and _visible(d)]
        names = [d.name for d in definitions if _in_queue(d, query.get("queue"), query.get("workflowId"))]
        entity_type = FILTER_ENTITIES.get(entity or "")
        typed = [d.name for d in definitions if d.case is not None and d.case.entity_type == entity_type]
        case_query = CaseQuery(
            names=names,
            states=_as_list(query.get("state")),
            assignee=query.get("assigneeId"),
            run_statuses=_run_statuses(query.get("status")),
            entity_type=entity_type,
            typed_names=typed,
            search=args.search or None,
            order_by=order_by,
            descending=descending,
            offset=(args.page_number - 1) * args.page_size,
            limit=args.page_size,
        )
        page = await self._ctx.store.list_cases(case_query)
        total_pages = -(-page.total // args.page_size)
        if args.page_number > max(total_pages, 1):
            raise NotFoundError("Page not found")
        return CaseList(page=page, total_pages=total_pages)

    async def _latest_definitions(self) -> list[WorkflowDef]:
        latest: dict[str, WorkflowDef] = {}
        for definition in await self._ctx.store.list_workflow_defs():
            latest[definition.name] = definition
        return list(latest.values())

    async def case_definitions(self, filter_id: str | None = None) -> list[WorkflowDef]:
        """The latest case definitions the acting key sees, by name; with ``filter_id``, those whose cases the
        saved filter lists (its queue, workflows and entity type): what a queue's "Add case manually" starts."""
        definitions = [d for d in await self._latest_definitions() if is_case(d) and _visible(d)]
        if filter_id is not None:
            saved = await self.get_filter(filter_id)
            entity_type = FILTER_ENTITIES.get(saved.entity)
            definitions = [
                d
                for d in definitions
                if _in_queue(d, saved.query.get("queue"), saved.query.get("workflowId"))
                and (d.case is None or d.case.entity_type in (None, entity_type))
            ]
        return sorted(definitions, key=lambda definition: definition.name)

    async def add_filter(self, name: Any, entity: Any, query: Any) -> CaseFilter:
        errors: list[FieldError] = []
        problem = name_problem(name) if isinstance(name, str) else "is required (a string)"
        if problem:
            errors.append(FieldError("name", problem))
        if entity not in FILTER_ENTITIES:
            errors.append(FieldError("entity", f"must be one of {', '.join(FILTER_ENTITIES)}"))
        if query is None:
            query = {}
        if not isinstance(query, dict):
            errors.append(FieldError("query", "must be a JSON object"))
        else:
            errors.extend(_query_errors(query, "query"))
        if errors:
            raise ValidationError(errors=errors)
        saved = CaseFilter(
            filter_id=self._ctx.new_id(), name=name, entity=entity, query=dict(query), created_at=self._ctx.clock()
        )
        await self._ctx.store.add_filter(saved)
        return saved

    async def filters(self) -> list[CaseFilter]:
        return await self._ctx.store.list_filters()

    async def get_filter(self, filter_id: str) -> CaseFilter:
        found = await self._ctx.store.get_filter(filter_id)
        if found is None:
            raise NotFoundError(f"No resource with id [{filter_id}] was found")
        return found

    # -- one case ----------------------------------------------------------------------------

    async def get(self, workflow_id: str) -> Case:
        runtime = await self._entities.runtime(workflow_id)
        definition = await self._ctx.store.get_run_definition(workflow_id)
        if definition is not None and not _visible(definition):
            check_may_decide_in(definition.case.queue if definition.case is not None else None)
        decisions = await self._ctx.store.case_decisions(workflow_id)
        queue = definition.case.queue if definition is not None and definition.case is not None else None
        return Case(runtime=runtime, decisions=decisions, queue=queue)

    async def check_may_decide(self, workflow_id: str) -> None:
        """PermissionDeniedError when the acting key is a REVIEWER of other queues than the case's."""
        principal = current_principal()
        if principal is None or principal.decides_in_every_queue:
            return
        definition = await self._ctx.store.get_run_definition(workflow_id)
        if definition is None:
            raise workflow_not_found(workflow_id)
        check_may_decide_in(definition.case.queue if definition.case is not None else None)

    async def assign(self, workflow_id: str, assignee_id: Any) -> Case:
        await self.check_may_decide(workflow_id)
        if assignee_id is not None and (not isinstance(assignee_id, str) or name_problem(assignee_id)):
            raise ValidationError(errors=[FieldError("assigneeId", "must be a user's id, or null to unassign")])
        runtime = await self._entities.runtime(workflow_id)
        if runtime.run.status.is_terminal:
            message = f"Workflow {workflow_id} has ended ({runtime.state}): it can no longer be assigned"
            raise ValidationError(message, [FieldError("assigneeId", message)])
        await self._ensure_record(runtime)
        await self._ctx.store.assign_case(workflow_id, assignee_id, self._ctx.clock())
        await self._ctx.audit.record(
            AuditAction.CASE_ASSIGNED, TargetKind.CASE, workflow_id, {"assigneeId": assignee_id}
        )
        return await self.get(workflow_id)

    async def decide(self, workflow_id: str, name: Any, reason: Any, reviewer: Any) -> Case:
        """A reviewer's decision on the whole case: it completes the pending HUMAN step with
        ``{decision, reason, reviewer}``; approve and reject also decide every document the same way."""
        errors = []
        if name not in DECISIONS:
            errors.append(FieldError("name", f"must be one of {', '.join(DECISIONS)}"))
        errors.extend(_optional_text(reason=reason, reviewer=reviewer))
        if errors:
            raise ValidationError(errors=errors)
        await self.check_may_decide(workflow_id)
        before = await self._entities.runtime(workflow_id)
        pending = await self._waits.waiting([TaskType.HUMAN.value], workflow_id=workflow_id)
        if not pending:
            message = f"Workflow {workflow_id} has no step waiting for a review (state: {before.state})"
            raise ValidationError(message, [FieldError("name", message)])
        merge = documents_decided(DOCUMENT_DECISIONS[name], reason) if name in ("approve", "reject") else None
        step = pending[0]
        output = {"decision": name, "reason": reason, "reviewer": reviewer}
        result = TaskResult(
            workflow_instance_id=workflow_id,
            task_id=step.task_id,
            status=TaskResultStatus.COMPLETED,
            output_data=output,
            worker_id=reviewer,
        )
        _, applied = await self._tasks.report(result, merge_variables=merge)
        if not applied:
            message = f"The review step '{step.reference_task_name}' of workflow {workflow_id} was decided meanwhile"
            raise ValidationError(message, [FieldError("name", message)])
        await self._ensure_record(before)
        decision = CaseDecision(
            decision=name, reviewer=reviewer, reason=reason, decided_at=self._ctx.clock(), task_id=step.task_id
        )
        await self._ctx.store.add_decision(workflow_id, decision)
        detail = {"decision": name, "reason": reason, "reviewer": reviewer}
        await self._ctx.audit.record(AuditAction.CASE_DECIDED, TargetKind.CASE, workflow_id, detail)
        return await self.get(workflow_id)

    async def decide_document(
        self, workflow_id: str, document_id: str, decision: Any, reason: Any, comment: Any
    ) -> Case:
        """One document's decision in the context: ``document.decision = {status, rejectionReason |
        revisionReason, comment}`` (``decision`` null clears it)."""
        errors = []
        if decision is not None and decision not in DOCUMENT_DECISIONS:
            errors.append(FieldError("decision", f"must be one of {', '.join(DOCUMENT_DECISIONS)}, or null"))
        errors.extend(_optional_text(reason=reason, comment=comment))
        if errors:
            raise ValidationError(errors=errors)
        await self.check_may_decide(workflow_id)
        runtime = await self._entities.runtime(workflow_id)
        if runtime.run.status.is_terminal:
            message = f"Workflow {workflow_id} has ended ({runtime.state}): its documents can no longer be decided"
            raise ValidationError(message, [FieldError("decision", message)])
        documents = runtime.context.get("documents")
        documents = documents if isinstance(documents, list) else []
        if not any(isinstance(doc, dict) and doc.get("id") == document_id for doc in documents):
            raise NotFoundError(f"No document with id [{document_id}] in workflow {workflow_id}")
        status = None if decision is None else DOCUMENT_DECISIONS[decision]
        merge = document_decided(document_id, status, reason, comment)
        await self._operations.update_variables(workflow_id, {}, merge_variables=merge)
        await self._ensure_record(runtime)
        detail = {"documentId": document_id, "decision": decision, "reason": reason}
        await self._ctx.audit.record(AuditAction.CASE_DOCUMENT_DECIDED, TargetKind.CASE, workflow_id, detail)
        return await self.get(workflow_id)

    async def create(self, workflow_name: Any, context: Any) -> Started:
        """ "Add case manually": the context checked against the definition's ``inputs``, then started."""
        definition = await self._entities.latest_definition(workflow_name)
        default_type = definition.case.entity_type if definition.case is not None else None
        checked = check_context(context, entity_id_required=False, default_type=default_type)
        check_inputs(definition, checked)
        return await self._entities.start(definition, checked, {"isManualCreation": True})

    async def _ensure_record(self, runtime: Runtime) -> None:
        """A case started elsewhere gets its record when it is first assigned or decided."""
        if runtime.record is None:
            run = runtime.run
            record = CaseRecord(
                workflow_id=run.workflow_id, workflow_name=run.workflow_name, created_at=run.create_time
            )
            await self._ctx.store.add_case(record)


def _extend(query: dict[str, Any], key: str, value: Any) -> None:
    if value is not None:
        query[key] = value


def _as_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    return list(value) if isinstance(value, list) else [value]


def _run_statuses(value: Any) -> list[str] | None:
    wanted = _as_list(value)
    if wanted is None:
        return None
    return [status for name in wanted for status in RUN_STATUSES[name]]


def _visible(definition: WorkflowDef) -> bool:
    """Whether the acting key sees cases of this definition: a REVIEWER key granted queues, those of its queues."""
    principal = current_principal()
    if principal is None or principal.decides_in_every_queue:
        return True
    return principal.may_decide_in(definition.case.queue if definition.case is not None else None)


def _in_queue(definition: WorkflowDef, queue: Any, workflow: Any) -> bool:
    if workflow is not None and definition.name not in (_as_list(workflow) or []):
        return False
    if queue is not None:
        return definition.case is not None and definition.case.queue in (_as_list(queue) or [])
    return True


def _query_errors(query: dict[str, Any], at: str) -> list[FieldError]:
    """A filter's saved query (or the list's own arguments): known keys, each a string or a list of them."""
    errors: list[FieldError] = []
    for key, value in query.items():
        here = f"{at}.{key}"
        if key not in FILTER_QUERY_KEYS:
            errors.append(FieldError(here, f"is not a case filter (one of {', '.join(sorted(FILTER_QUERY_KEYS))})"))
            continue
        values = value if isinstance(value, list) else [value]
        if key == "assigneeId" and isinstance(value, list):
            errors.append(FieldError(here, "must be one user's id ('' for the unassigned)"))
        elif not all(isinstance(item, str) for item in values):
            errors.append(FieldError(here, "must be a string or a list of strings"))
        elif key == "state" and any(item not in CASE_STATES for item in values):
            errors.append(FieldError(here, f"must be among {', '.join(CASE_STATES)}"))
        elif key == "status" and any(item not in RUN_STATUSES for item in values):
            errors.append(FieldError(here, f"must be among {', '.join(RUN_STATUSES)}"))
    return errors


def _optional_text(**values: Any) -> list[FieldError]:
    return [
        FieldError(name, "must be a string")
        for name, value in values.items()
        if value is not None and not isinstance(value, str)
    ]


def documents_decided(status: str, reason: Any) -> MergeVariables:
    """A whole case's decision on its documents: every document of the context, as the run then holds them,
    decided ``status`` (nothing changes when the context has none)."""

    def merge(run: Workflow) -> dict[str, Any]:
        documents = context_of(run).get("documents")
        if not isinstance(documents, list) or not documents:
            return {}
        decided = [_decided(doc, status, reason, None) if isinstance(doc, dict) else doc for doc in documents]
        return {"documents": decided}

    return merge


def document_decided(document_id: str, status: str | None, reason: Any, comment: Any) -> MergeVariables:
    """One document's decision, made on the context as the run then holds it (its other documents as they are
    then; nothing changes when the document is gone)."""

    def merge(run: Workflow) -> dict[str, Any]:
        documents = context_of(run).get("documents")
        if not isinstance(documents, list):
            return {}
        decided = [
            _decided(doc, status, reason, comment) if isinstance(doc, dict) and doc.get("id") == document_id else doc
            for doc in documents
        ]
        return {"documents": decided} if decided != documents else {}

    return merge


def _decided(document: dict[str, Any], status: str | None, reason: Any, comment: Any) -> dict[str, Any]:
    decision: dict[str, Any] = {"status": status}
    if status in _REASON_FIELD and reason is not None:
        decision[_REASON_FIELD[status]] = reason
    if comment is not None:
        decision["comment"] = comment
    return {**document, "decision": decision}
