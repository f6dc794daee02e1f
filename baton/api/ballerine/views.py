"""Ballerine's shapes of what the service returns: a workflow runtime, a case, a line of the case list, a filter.

Times are ISO-8601 UTC text, as Ballerine's Prisma rows are sent. ``workflowDefinitionId`` is the
definition's name (Baton's id for a definition); ``id`` is the run's id on every surface.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from baton.model.cases import CaseDecision, CaseFilter, CaseSummary, Entity
from baton.service.cases import Case
from baton.service.entities import Runtime, runtime_status

_FAILED_TAG = {"failed": "failure"}


def iso(ms: int | None) -> str | None:
    """Epoch milliseconds as ISO-8601 UTC text (None and 0 as null)."""
    if not ms:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tags_of(state: str, is_case: bool) -> list[str]:
    """A case's tags: its state, in Ballerine's words (``failure`` for a failed one)."""
    return [_FAILED_TAG.get(state, state)] if is_case else []


def _entity_ids(entity: Entity | None) -> dict[str, Any]:
    if entity is None:
        return {"businessId": None, "endUserId": None}
    if entity.entity_type == "business":
        return {"businessId": entity.entity_id, "endUserId": None}
    return {"businessId": None, "endUserId": entity.entity_id}


def runtime_view(runtime: Runtime) -> dict[str, Any]:
    """``GET /external/workflows/{id}``: the run as Ballerine's ``WorkflowRuntimeData``."""
    run, record = runtime.run, runtime.record
    return {
        "id": run.workflow_id,
        "workflowDefinitionId": run.workflow_name,
        "workflowDefinitionVersion": run.workflow_version,
        "state": runtime.state,
        "status": runtime_status(run.status),
        "context": runtime.context,
        "config": {} if record is None else record.config,
        "tags": tags_of(runtime.state, runtime.is_case),
        "assigneeId": None if record is None else record.assignee_id,
        "assignedAt": None if record is None else iso(record.assigned_at),
        "createdAt": iso(run.create_time),
        "updatedAt": iso(run.update_time or run.create_time),
        "resolvedAt": iso(run.end_time) if run.status.is_terminal else None,
        "correlationId": run.correlation_id,
        "ballerineEntityId": None if runtime.entity is None else runtime.entity.entity_id,
        **_entity_ids(runtime.entity),
        "parentRuntimeDataId": run.parent_workflow_id,
    }


def _decision_view(decision: CaseDecision) -> dict[str, Any]:
    return {
        "decision": decision.decision,
        "reason": decision.reason,
        "reviewer": decision.reviewer,
        "decidedAt": iso(decision.decided_at),
    }


def _entity_view(entity: Entity | None, name: str | None) -> dict[str, Any] | None:
    if entity is None:
        return None
    return {"id": entity.entity_id, "type": entity.entity_type, "correlationId": entity.external_id, "name": name}


def case_view(case: Case) -> dict[str, Any]:
    """``GET /internal/workflows/{id}``: the runtime, with its entity, assignee, queue and decision history."""
    runtime = case.runtime
    record = runtime.record
    assignee = None if record is None or record.assignee_id is None else {"id": record.assignee_id}
    return {
        **runtime_view(runtime),
        "entity": _entity_view(runtime.entity, None if record is None else record.entity_name),
        "assignee": assignee,
        "queue": case.queue,
        "isCase": runtime.is_case,
        "decisions": [_decision_view(decision) for decision in case.decisions],
    }


def summary_view(item: CaseSummary) -> dict[str, Any]:
    """One line of ``GET /internal/workflows``."""
    entity = None
    if item.entity_id is not None:
        entity = {
            "id": item.entity_id,
            "type": item.entity_type,
            "correlationId": item.external_id,
            "name": item.entity_name,
            "avatarUrl": None,
            "approvalState": item.state,
        }
    return {
        "id": item.workflow_id,
        "workflowDefinitionId": item.workflow_name,
        "workflowDefinitionVersion": item.workflow_version,
        "status": "active" if item.status in ("RUNNING", "PAUSED") else _ended(item.status),
        "state": item.state,
        "createdAt": iso(item.create_time),
        "updatedAt": iso(item.update_time or item.create_time),
        "correlationId": item.correlation_id,
        "entity": entity,
        "assigneeId": item.assignee_id,
        "assignee": None if item.assignee_id is None else {"id": item.assignee_id},
        "assignedAt": iso(item.assigned_at),
        "tags": tags_of(item.state, True),
    }


def _ended(status: str) -> str:
    return "completed" if status == "COMPLETED" else "failed"


def filter_view(saved: CaseFilter) -> dict[str, Any]:
    return {
        "id": saved.filter_id,
        "name": saved.name,
        "entity": saved.entity,
        "query": saved.query,
        "createdAt": iso(saved.created_at),
    }
