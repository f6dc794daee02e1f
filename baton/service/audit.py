"""The audit log: who did what, recorded by the use cases that change definitions, runs, cases and keys.

``AuditService.record`` names the actor itself (``current_actor()``), so a use case says only what it did and to
what; it records right after the use case's own transaction (why: docs/design.md, "Audit log").
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from baton.errors import FieldError, StoreError, ValidationError
from baton.model.audit import AuditAction, AuditPage, AuditQuery, NewAuditEntry, TargetKind
from baton.service.acting import current_actor
from baton.store import AuditStore

log = logging.getLogger(__name__)

_DAY_MS: Final = 86_400_000
NO_DETAIL: Final[Mapping[str, Any]] = {}
MAX_PAGE: Final = 1000
"""Most entries one read returns."""


class AuditService:
    def __init__(self, store: AuditStore, clock: Callable[[], int]) -> None:
        self._store = store
        self._clock = clock

    async def record(
        self, action: AuditAction, kind: TargetKind, target_id: str, detail: Mapping[str, Any] | None = None
    ) -> None:
        """Record that the current actor did ``action`` to the ``kind`` named ``target_id``; ``detail``: a small
        JSON object (never a secret)."""
        await self.record_each(action, kind, [(target_id, detail or NO_DETAIL)])

    async def record_each(
        self, action: AuditAction, kind: TargetKind, targets: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> None:
        """One entry for each ``(target_id, detail)``, written together (a registration of many definitions)."""
        if not targets:
            return
        actor, now = current_actor(), self._clock()
        entries = [
            NewAuditEntry(
                at=now, actor=actor, action=action, target_kind=kind, target_id=target_id, detail=dict(detail)
            )
            for target_id, detail in targets
        ]
        try:
            await self._store.add_audit_entries(entries)
        except StoreError:
            log.exception("audit entries not recorded: %s", entries)

    async def entries(self, query: AuditQuery) -> AuditPage:
        """A page of entries, newest first; ``next_before`` continues it when the page is full."""
        _check(query)
        results = await self._store.audit_entries(query)
        next_before = results[-1].id if len(results) == query.limit else None
        return AuditPage(results=results, next_before=next_before)

    async def forget(self, retention_days: float, *, batch: int) -> int:
        """One batch of retention: entries recorded more than ``retention_days`` ago."""
        cutoff = self._clock() - int(retention_days * _DAY_MS)
        return await self._store.delete_audit_entries_before(cutoff, batch)


def _check(query: AuditQuery) -> None:
    errors: list[FieldError] = []
    if query.action is not None and query.action not in AuditAction.__members__:
        errors.append(FieldError("action", f"must be one of {', '.join(AuditAction)}"))
    if query.target_kind is not None and query.target_kind not in TargetKind.__members__:
        errors.append(FieldError("targetKind", f"must be one of {', '.join(TargetKind)}"))
    if not 1 <= query.limit <= MAX_PAGE:
        errors.append(FieldError("limit", f"must be between 1 and {MAX_PAGE}"))
    for name, value in (("since", query.since), ("until", query.until), ("before", query.before)):
        if value is not None and value < 0:
            errors.append(FieldError(name, "must not be negative"))
    if errors:
        raise ValidationError(errors=errors)
