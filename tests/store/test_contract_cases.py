"""The store contract (``baton/store/roles.py``) for entities, cases, decisions and filters, on every backend."""

from __future__ import annotations

import pytest

from baton.model import IdempotencyStrategy, TaskStatus, WorkflowStatus
from baton.model.cases import CaseDecision, CaseFilter, CaseQuery, CaseRecord
from baton.store import Store
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(60)


async def test_an_entity_is_one_per_type_and_callers_id(store: Store) -> None:
    first = await store.entity_for("business", "acme-1", "e-1", 10)
    again = await store.entity_for("business", "acme-1", "e-2", 20)
    other = await store.entity_for("individual", "acme-1", "e-3", 30)
    assert first == again
    assert (first.entity_id, first.entity_type, first.external_id) == ("e-1", "business", "acme-1")
    assert first.created_at == 10
    assert other.entity_id == "e-3"
    assert await store.get_entity("e-1") == first
    assert await store.get_entity("e-2") is None


async def test_a_case_record_is_kept_once_beside_an_existing_run(store: Store) -> None:
    await start(store, make_run("c-1", name="kyb"))
    entity = await store.entity_for("business", "acme", "e-1", 5)
    record = CaseRecord(
        workflow_id="c-1",
        workflow_name="kyb",
        created_at=7,
        entity_id=entity.entity_id,
        entity_name="Acme Ltd",
        config={"allowMultipleActiveWorkflows": True},
    )
    assert await store.add_case(record)
    assert not await store.add_case(CaseRecord(workflow_id="c-1", workflow_name="other", created_at=8))
    assert not await store.add_case(CaseRecord(workflow_id="missing", workflow_name="kyb", created_at=8))
    assert await store.get_case("c-1") == record
    assert await store.get_case("missing") is None

    assert await store.assign_case("c-1", "alice", 50)
    assigned = await store.get_case("c-1")
    assert assigned is not None and (assigned.assignee_id, assigned.assigned_at) == ("alice", 50)
    assert await store.assign_case("c-1", None, 60)
    cleared = await store.get_case("c-1")
    assert cleared is not None and (cleared.assignee_id, cleared.assigned_at) == (None, None)
    assert not await store.assign_case("missing", "alice", 60)

    # Removed with its run.
    assert await store.delete_run("c-1")
    assert await store.get_case("c-1") is None


async def test_decisions_are_kept_in_order_and_the_last_is_on_the_record(store: Store) -> None:
    await start(store, make_run("d-1", name="kyb"))
    await store.add_case(CaseRecord(workflow_id="d-1", workflow_name="kyb", created_at=1))
    first = CaseDecision(decision="revision", reviewer="bob", reason="blurry", decided_at=10, task_id="t-1")
    second = CaseDecision(decision="approve", reviewer="bob", reason=None, decided_at=20)
    assert await store.add_decision("d-1", first) == 1
    assert await store.add_decision("d-1", second) == 2
    assert await store.case_decisions("d-1") == [first, second]
    record = await store.get_case("d-1")
    assert record is not None and record.last_decision == "approve"
    assert await store.case_decisions("other") == []


async def test_the_run_holding_an_idempotency_key(store: Store) -> None:
    await start(store, make_run("k-1", idempotency_key="the-key"), strategy=IdempotencyStrategy.FAIL_ON_RUNNING)
    assert await store.run_holding_key("the-key") == "k-1"
    assert await store.run_holding_key("no-key") is None


async def test_filters_are_saved_and_listed(store: Store) -> None:
    first = CaseFilter(filter_id="f-1", name="KYB queue", entity="businesses", query={"queue": "kyb"}, created_at=1)
    second = CaseFilter(filter_id="f-2", name="Mine", entity="individuals", query={"assigneeId": "a"}, created_at=2)
    await store.add_filter(second)
    await store.add_filter(first)
    assert await store.list_filters() == [first, second]
    assert await store.get_filter("f-2") == second
    assert await store.get_filter("f-3") is None


async def test_the_case_list_derives_states_filters_searches_and_pages(store: Store) -> None:
    reviewing = make_run("r-review", name="kyb", create_time=100)
    await start(store, reviewing, [make_task(reviewing, "h-1", task_type="HUMAN", status=TaskStatus.IN_PROGRESS)])
    await start(store, make_run("r-pending", name="kyb", create_time=200, correlation_id="Corr-X"))
    await start(store, make_run("r-done", name="kyb", create_time=300, status=WorkflowStatus.COMPLETED))
    await start(store, make_run("r-approved", name="kyb", create_time=400, status=WorkflowStatus.COMPLETED))
    await start(store, make_run("r-failed", name="kyc", create_time=500, status=WorkflowStatus.TERMINATED))
    sent_back = make_run("r-revision", name="kyc", create_time=600)
    await start(store, sent_back, [make_task(sent_back, "w-1", task_type="WAIT", status=TaskStatus.IN_PROGRESS)])
    await start(store, make_run("r-resubmitted", name="kyc", create_time=650))
    await start(store, make_run("r-other", name="not-a-case", create_time=700))
    entity = await store.entity_for("individual", "person-42", "e-42", 1)
    for workflow_id, name in (("r-approved", "kyb"), ("r-revision", "kyc"), ("r-resubmitted", "kyc")):
        record = CaseRecord(
            workflow_id=workflow_id, workflow_name=name, created_at=1, entity_id=entity.entity_id, entity_name="Ada L"
        )
        await store.add_case(record)
    await store.add_decision("r-approved", CaseDecision(decision="approve", reviewer="r", reason=None, decided_at=2))
    for sent in ("r-revision", "r-resubmitted"):
        await store.add_decision(sent, CaseDecision(decision="revision", reviewer="r", reason=None, decided_at=2))
    await store.assign_case("r-revision", "alice", 3)

    names = ["kyb", "kyc"]
    page = await store.list_cases(CaseQuery(names=names, limit=10))
    assert page.total == 7
    states = {item.workflow_id: item.state for item in page.items}
    assert states == {
        "r-review": "manual_review",
        "r-pending": "pending_process",
        "r-done": "completed",
        "r-approved": "approved",
        "r-failed": "failed",
        "r-revision": "revision",
        "r-resubmitted": "pending_process",
    }
    assert [item.workflow_id for item in page.items][:3] == ["r-resubmitted", "r-revision", "r-failed"]
    revision = page.items[1]
    assert (revision.entity_id, revision.entity_type, revision.external_id, revision.entity_name) == (
        "e-42",
        "individual",
        "person-42",
        "Ada L",
    )
    assert (revision.assignee_id, revision.assigned_at, revision.workflow_name) == ("alice", 3, "kyc")

    async def ids(**args: object) -> list[str]:
        found = await store.list_cases(CaseQuery(names=names, limit=10, **args))  # type: ignore[arg-type]
        assert found.total == len(found.items)
        return [item.workflow_id for item in found.items]

    assert await ids(states=["manual_review", "revision"]) == ["r-revision", "r-review"]
    assert await ids(assignee="alice") == ["r-revision"]
    assert len(await ids(assignee="")) == 6
    assert await ids(run_statuses=["COMPLETED"]) == ["r-approved", "r-done"]
    assert await ids(entity_type="individual") == ["r-resubmitted", "r-revision", "r-approved"]
    assert await ids(entity_type="business", typed_names=["kyb"]) == ["r-done", "r-pending", "r-review"]
    assert await ids(search="corr-x") == ["r-pending"]
    assert await ids(search="PERSON-4") == ["r-resubmitted", "r-revision", "r-approved"]
    assert await ids(search="ada l") == ["r-resubmitted", "r-revision", "r-approved"]
    assert await ids(search="100%") == []
    assert await ids(order_by="createdAt", descending=False, states=["failed", "completed"]) == ["r-done", "r-failed"]

    second = await store.list_cases(CaseQuery(names=names, order_by="updatedAt", limit=4, offset=4))
    assert second.total == 7
    assert [item.workflow_id for item in second.items] == ["r-done", "r-pending", "r-review"]
    beyond = await store.list_cases(CaseQuery(names=names, limit=4, offset=8))
    assert beyond.total == 7 and beyond.items == []
    assert (await store.list_cases(CaseQuery(names=[], limit=4))).total == 0
