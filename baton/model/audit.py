"""The audit log's vocabulary: what was done (``AuditAction``), to what (``TargetKind``), an entry, a query.

An entry names its actor as ``Principal.actor`` does (``application:keyId``), or ``system`` for what the server
did by itself; its ``detail`` is a small JSON object of what the action needs to be understood later (a version,
a reason, a decision).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import msgspec


class AuditAction(StrEnum):
    WORKFLOW_DEF_REGISTERED = "WORKFLOW_DEF_REGISTERED"
    WORKFLOW_DEF_DELETED = "WORKFLOW_DEF_DELETED"
    TASK_DEF_REGISTERED = "TASK_DEF_REGISTERED"
    TASK_DEF_DELETED = "TASK_DEF_DELETED"
    RUN_TERMINATED = "RUN_TERMINATED"
    RUN_RESTARTED = "RUN_RESTARTED"
    RUN_RETRIED = "RUN_RETRIED"
    RUN_RERUN = "RUN_RERUN"
    RUN_PAUSED = "RUN_PAUSED"
    RUN_RESUMED = "RUN_RESUMED"
    RUN_REMOVED = "RUN_REMOVED"
    TASK_SKIPPED = "TASK_SKIPPED"
    CASE_DECIDED = "CASE_DECIDED"
    CASE_DOCUMENT_DECIDED = "CASE_DOCUMENT_DECIDED"
    CASE_ASSIGNED = "CASE_ASSIGNED"
    KEY_CREATED = "KEY_CREATED"
    KEY_REVOKED = "KEY_REVOKED"
    KEY_ACTIVATED = "KEY_ACTIVATED"
    KEY_DELETED = "KEY_DELETED"
    APPLICATION_CREATED = "APPLICATION_CREATED"
    APPLICATION_UPDATED = "APPLICATION_UPDATED"
    APPLICATION_DELETED = "APPLICATION_DELETED"
    ROLE_ADDED = "ROLE_ADDED"
    ROLE_REMOVED = "ROLE_REMOVED"
    SECRET_PUT = "SECRET_PUT"
    SECRET_DELETED = "SECRET_DELETED"


class TargetKind(StrEnum):
    WORKFLOW_DEF = "WORKFLOW_DEF"
    """Its id: the definition's name (the version is in the detail)."""
    TASK_DEF = "TASK_DEF"
    RUN = "RUN"
    """Its id: the run's (workflow) id."""
    CASE = "CASE"
    """Its id: the case's run id."""
    ACCESS_KEY = "ACCESS_KEY"
    """Its id: the key id (never its secret)."""
    APPLICATION = "APPLICATION"
    """Its id: the application's id (a role added or removed: the role in the detail)."""
    SECRET = "SECRET"
    """Its id: the secret's name (never its value)."""


class AuditEntry(msgspec.Struct, rename="camel", kw_only=True):
    id: int
    """Increases with each entry: the page cursor (``before``)."""
    time: int
    """Epoch milliseconds."""
    actor: str
    action: str
    target_kind: str
    target_id: str
    detail: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class NewAuditEntry:
    """An entry to record (its id is given by the store)."""

    at: int
    actor: str
    action: AuditAction
    target_kind: TargetKind
    target_id: str
    detail: dict[str, Any]


class AuditPage(msgspec.Struct, rename="camel", kw_only=True):
    results: list[AuditEntry]
    """Newest first."""
    next_before: int | None = None
    """Pass as ``before`` for the next (older) page; None: this is the last."""


@dataclass(frozen=True, kw_only=True)
class AuditQuery:
    """Which entries to read: each filter given must match; newest first, ``limit`` at most."""

    actor: str | None = None
    action: str | None = None
    target_kind: str | None = None
    target_id: str | None = None
    since: int | None = None
    """Entries at or after this time (epoch ms)."""
    until: int | None = None
    """Entries before this time (epoch ms)."""
    before: int | None = None
    """Entries whose id is below this (the previous page's ``next_before``)."""
    limit: int = 100
