"""Who an entry names: the principal the use case acts as (``acting_as``), else ``system``; on a real store, in
process (authentication, which sets the principal per request, is not needed for this)."""

from __future__ import annotations

import pytest

from baton.model.access import Principal, Role
from baton.model.audit import AuditAction, AuditQuery, TargetKind
from baton.service import Baton
from baton.service.acting import acting_as
from tests.helpers import quick_task_def

pytestmark = pytest.mark.timeout(60)

OPERATOR = Principal(key_id="k-ops", application_id="app-1", application_name="ops", roles=frozenset({Role.OPERATOR}))


async def test_an_entry_names_the_acting_principal_or_system(baton: Baton) -> None:
    with acting_as(OPERATOR):
        await baton.definitions.register_task_defs([quick_task_def("by_a_key")])
    await baton.definitions.register_task_defs([quick_task_def("by_the_server")])

    page = await baton.audit.entries(AuditQuery(action=AuditAction.TASK_DEF_REGISTERED))

    assert [(e.actor, e.target_id) for e in page.results] == [("system", "by_the_server"), ("ops:k-ops", "by_a_key")]
    assert page.next_before is None


async def test_the_keys_service_records_with_record(baton: Baton) -> None:
    """What the keys service calls when it makes or revokes a key: the key id is the target, never its secret."""
    with acting_as(OPERATOR):
        await baton.audit.record(AuditAction.KEY_CREATED, TargetKind.ACCESS_KEY, "k-new", {"roles": ["WORKER"]})
        await baton.audit.record(AuditAction.KEY_REVOKED, TargetKind.ACCESS_KEY, "k-new")

    page = await baton.audit.entries(AuditQuery(target_kind="ACCESS_KEY", target_id="k-new", limit=1))

    assert [(e.action, e.actor, e.detail) for e in page.results] == [("KEY_REVOKED", "ops:k-ops", {})]
    assert page.next_before == page.results[0].id
    older = await baton.audit.entries(AuditQuery(target_id="k-new", before=page.next_before))
    assert [(e.action, e.detail) for e in older.results] == [("KEY_CREATED", {"roles": ["WORKER"]})]
