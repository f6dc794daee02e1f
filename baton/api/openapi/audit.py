"""The document's ``/api/audit`` path: the audit log, newest first, filtered and paged."""

from __future__ import annotations

from baton.api.openapi.spec import INT64, Paths, answer, enum, operation, query, ref
from baton.model.audit import AuditAction, TargetKind

TAG = "audit-resource"

_TIME = {**INT64, "minimum": 0}

paths: Paths = {
    "/api/audit": {
        "get": operation(
            "getAuditLog",
            TAG,
            "Who did what, newest first (ADMIN only)",
            parameters=[
                query("actor", "Only this actor's entries (`application:keyId`, or `system`)."),
                query("action", "Only this action.", enum(AuditAction)),
                query("targetKind", "Only entries on this kind of target.", enum(TargetKind)),
                query("targetId", "Only entries on this target (a run id, a definition's name, a key id)."),
                query("since", "Entries at or after this time (epoch ms).", _TIME),
                query("until", "Entries before this time (epoch ms).", _TIME),
                query("before", "Entries older than this id: the previous page's `nextBefore`.", _TIME),
                query("limit", "Most entries to answer.", {**INT64, "minimum": 1, "maximum": 1000, "default": 100}),
            ],
            responses={200: answer("A page of entries.", ref("AuditPage"))},
        ),
    },
}
