"""The answer shapes the clients decode that are not part of ``baton.model``."""

from __future__ import annotations

from typing import Any, Generic, NamedTuple, TypeVar

import msgspec

from baton.model import Task, WorkflowStatus

__all__ = ["ExecuteResult", "SearchResult", "WorkflowRun", "WorkflowStatusSummary"]

T = TypeVar("T")


class WorkflowRun(msgspec.Struct, rename="camel", kw_only=True):
    """The answer of a synchronous execute: Conductor's ``WorkflowRun``.

    Every field but the id is optional so that both a ``WorkflowRun`` and a full
    ``Workflow`` body decode into it.
    """

    workflow_id: str
    status: WorkflowStatus = WorkflowStatus.RUNNING
    request_id: str | None = None
    correlation_id: str | None = None
    workflow_name: str | None = None
    workflow_version: int | None = None
    input: dict[str, Any] = {}
    output: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    priority: int = 0
    create_time: int = 0
    update_time: int = 0
    reason_for_incompletion: str | None = None
    created_by: str | None = None
    tasks: list[Task] = []


class WorkflowStatusSummary(msgspec.Struct, rename="camel", kw_only=True):
    """``GET /api/workflow/{id}/status``: a run's status without its tasks."""

    workflow_id: str
    status: WorkflowStatus
    correlation_id: str | None = None
    output: dict[str, Any] = {}
    variables: dict[str, Any] = {}


class SearchResult(msgspec.Struct, Generic[T], rename="camel", kw_only=True):
    """Conductor's ``SearchResult``: one page of hits and how many there are in all (see the server's cap)."""

    total_hits: int = 0
    results: list[T] = []


class ExecuteResult(NamedTuple):
    """A synchronous execute's answer; ``complete`` is False when the wait ran out first (HTTP 206)."""

    run: WorkflowRun
    complete: bool
