"""The audit log, written once for both stores: entries added one at a time, read newest first, deleted by age."""

from __future__ import annotations

import json
from collections.abc import Sequence

from baton.model.audit import AuditEntry, AuditQuery, NewAuditEntry
from baton.store.common.database import Database
from baton.store.common.dialect import per_dialect

INSERT_ENTRY = per_dialect("""
INSERT INTO audit_log (at, actor, action, target_kind, target_id, detail) VALUES ($1, $2, $3, $4, $5, $6)""")
SELECT_ENTRIES = per_dialect("""
SELECT seq, at, actor, action, target_kind, target_id, detail FROM audit_log
WHERE (CAST($1 AS TEXT) IS NULL OR actor = $1)
  AND (CAST($2 AS TEXT) IS NULL OR action = $2)
  AND (CAST($3 AS TEXT) IS NULL OR target_kind = $3)
  AND (CAST($4 AS TEXT) IS NULL OR target_id = $4)
  AND (CAST($5 AS BIGINT) IS NULL OR at >= $5)
  AND (CAST($6 AS BIGINT) IS NULL OR at < $6)
  AND (CAST($7 AS BIGINT) IS NULL OR seq < $7)
ORDER BY seq DESC LIMIT $8""")
"""One statement for every combination of filters (an absent one is NULL): the log is read by people, rarely, and
kept short by retention, so a plan that does not suit every combination costs little."""
DELETE_ENTRIES_BEFORE = per_dialect("""
DELETE FROM audit_log WHERE seq IN (SELECT seq FROM audit_log WHERE at < $1 ORDER BY at LIMIT $2)""")


class AuditLog:
    """``AuditStore`` over the store's ``Database``."""

    _db: Database

    async def add_audit_entries(self, entries: Sequence[NewAuditEntry]) -> None:
        rows = [
            (e.at, e.actor, e.action.value, e.target_kind.value, e.target_id, json.dumps(e.detail)) for e in entries
        ]
        async with self._db.write("record audit entries") as tx:
            await tx.executemany(INSERT_ENTRY[self._db.dialect], rows)

    async def audit_entries(self, query: AuditQuery) -> list[AuditEntry]:
        async with self._db.read("read the audit log") as tx:
            rows = await tx.fetchall(
                SELECT_ENTRIES[self._db.dialect],
                query.actor,
                query.action,
                query.target_kind,
                query.target_id,
                query.since,
                query.until,
                query.before,
                query.limit,
            )
        return [
            AuditEntry(
                id=seq,
                time=at,
                actor=actor,
                action=action,
                target_kind=target_kind,
                target_id=target_id,
                detail=json.loads(detail),
            )
            for seq, at, actor, action, target_kind, target_id, detail in rows
        ]

    async def delete_audit_entries_before(self, cutoff: int, limit: int) -> int:
        async with self._db.write_one("delete old audit entries") as tx:
            return await tx.execute(DELETE_ENTRIES_BEFORE[self._db.dialect], cutoff, limit)
