"""Cases and the entities they are about, as the store keeps them (Ballerine's back office: ``service/cases.py``).

A case is a run whose definition says it is one (``WorkflowDef.case``, or a HUMAN step). What the run
itself does not hold is kept beside it: the entity (Baton's id for a caller's business or individual),
the assignee, the decisions reviewers made, and the saved filters (queues) of the case list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CASE_STATES = ("manual_review", "revision", "approved", "rejected", "pending_process", "completed", "failed")
"""A case's state, derived from its run and its decisions (``service/cases.case_state``, and the store's list)."""

DECISIONS = ("approve", "reject", "revision")
"""What a reviewer decides on a whole case (``PATCH /internal/workflows/{id}/event-decision``)."""


@dataclass(frozen=True, kw_only=True)
class Entity:
    """A business or individual: ``entity_id`` is Baton's (Ballerine's ``ballerineEntityId``), ``external_id`` the
    caller's (``context.entity.id``); one entity per (type, caller's id)."""

    entity_id: str
    entity_type: str
    external_id: str
    created_at: int


@dataclass(frozen=True, kw_only=True)
class CaseRecord:
    """What is kept beside one run: its entity, the config it was started with, its assignee, its last decision."""

    workflow_id: str
    workflow_name: str
    created_at: int
    entity_id: str | None = None
    entity_name: str | None = None
    config: dict[str, Any] = field(default_factory=dict)
    assignee_id: str | None = None
    assigned_at: int | None = None
    last_decision: str | None = None


@dataclass(frozen=True, kw_only=True)
class CaseDecision:
    """One reviewer's decision on a case: who, what, why, when, and the HUMAN step it completed."""

    decision: str
    reviewer: str | None
    reason: str | None
    decided_at: int
    task_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class CaseFilter:
    """A saved query of the case list (Ballerine's ``Filter``, a queue): ``entity`` is ``businesses`` or
    ``individuals``; ``query`` holds the list's arguments (``queue``, ``state``, ``assigneeId``, ``workflowId``)."""

    filter_id: str
    name: str
    entity: str
    query: dict[str, Any]
    created_at: int


@dataclass(frozen=True, kw_only=True)
class CaseQuery:
    """One page of the case list. ``names`` are the case definitions' names to list; a None filter lists all;
    ``assignee`` "" lists the unassigned. ``entity_type`` matches a case's entity, or, for a case without one,
    the names in ``typed_names`` (definitions that declare that entity type)."""

    names: list[str]
    states: list[str] | None = None
    assignee: str | None = None
    run_statuses: list[str] | None = None
    entity_type: str | None = None
    typed_names: list[str] = field(default_factory=list)
    search: str | None = None
    order_by: str = "createdAt"
    descending: bool = True
    offset: int = 0
    limit: int = 20


@dataclass(frozen=True, kw_only=True)
class CaseSummary:
    """One line of the case list: the run's header, what is kept beside it, and its derived state."""

    workflow_id: str
    workflow_name: str
    workflow_version: int
    status: str
    correlation_id: str | None
    create_time: int
    update_time: int
    state: str
    entity_id: str | None
    entity_type: str | None
    external_id: str | None
    entity_name: str | None
    assignee_id: str | None
    assigned_at: int | None


@dataclass(frozen=True, kw_only=True)
class CasePage:
    items: list[CaseSummary]
    total: int
