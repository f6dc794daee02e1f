"""The store contract (``baton/store/roles.py``) for the audit log, on every backend."""

from __future__ import annotations

import pytest

from baton.model.audit import AuditAction, AuditQuery, NewAuditEntry, TargetKind
from baton.store import Store

pytestmark = pytest.mark.timeout(60)


def _entry(at: int, actor: str, action: str, kind: str, target: str) -> NewAuditEntry:
    detail = {"at": at, "n": [1, "x"]}
    return NewAuditEntry(
        at=at, actor=actor, action=AuditAction(action), target_kind=TargetKind(kind), target_id=target, detail=detail
    )


async def _add(store: Store, at: int, actor: str, action: str, kind: str, target: str) -> int:
    """Record one entry; its id."""
    await store.add_audit_entries([_entry(at, actor, action, kind, target)])
    return (await store.audit_entries(AuditQuery(limit=1)))[0].id


async def test_entries_are_read_newest_first_with_their_detail(store: Store) -> None:
    first = await _add(store, 10, "app:k1", "RUN_TERMINATED", "RUN", "r1")
    second = await _add(store, 20, "app:k2", "RUN_PAUSED", "RUN", "r2")
    assert second > first

    entries = await store.audit_entries(AuditQuery())

    assert [(e.id, e.time, e.actor, e.action, e.target_kind, e.target_id) for e in entries] == [
        (second, 20, "app:k2", "RUN_PAUSED", "RUN", "r2"),
        (first, 10, "app:k1", "RUN_TERMINATED", "RUN", "r1"),
    ]
    assert entries[1].detail == {"at": 10, "n": [1, "x"]}


async def test_each_filter_narrows_and_pages_go_back_by_id(store: Store) -> None:
    ids = [
        await _add(store, 10, "a:1", "RUN_TERMINATED", "RUN", "r1"),
        await _add(store, 20, "a:2", "RUN_TERMINATED", "RUN", "r2"),
        await _add(store, 30, "a:1", "TASK_DEF_DELETED", "TASK_DEF", "r1"),
        await _add(store, 40, "system", "RUN_RETRIED", "RUN", "r1"),
    ]

    async def found(**filters: object) -> list[int]:
        return [e.id for e in await store.audit_entries(AuditQuery(**filters))]  # type: ignore[arg-type]

    assert await found(actor="a:1") == [ids[2], ids[0]]
    assert await found(action="RUN_TERMINATED") == [ids[1], ids[0]]
    assert await found(target_kind="RUN", target_id="r1") == [ids[3], ids[0]]
    assert await found(target_id="r1") == [ids[3], ids[2], ids[0]]
    assert await found(since=20, until=40) == [ids[2], ids[1]]
    assert await found(limit=2) == [ids[3], ids[2]]
    assert await found(before=ids[2], limit=2) == [ids[1], ids[0]]
    assert await found(actor="nobody") == []


async def test_entries_recorded_together_keep_their_order(store: Store) -> None:
    await store.add_audit_entries([_entry(5, "a:1", "TASK_DEF_REGISTERED", "TASK_DEF", f"t{n}") for n in range(3)])
    await store.add_audit_entries([])

    assert [e.target_id for e in await store.audit_entries(AuditQuery())] == ["t2", "t1", "t0"]


async def test_old_entries_are_deleted_in_batches(store: Store) -> None:
    for at in (10, 20, 30, 40):
        await _add(store, at, "a:1", "RUN_REMOVED", "RUN", f"r{at}")

    assert await store.delete_audit_entries_before(35, 2) == 2
    assert await store.delete_audit_entries_before(35, 2) == 1
    assert await store.delete_audit_entries_before(35, 2) == 0

    assert [e.time for e in await store.audit_entries(AuditQuery())] == [40]
