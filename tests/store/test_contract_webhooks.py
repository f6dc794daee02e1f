"""The store contract (``baton/store/roles.py``) for outgoing webhooks, run against every backend."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from baton.engine.decision import Decision
from baton.errors import ConflictError
from baton.model import Workflow, WorkflowDef, WorkflowStatus
from baton.model.webhooks import DeliveryAttempt, DeliveryStatus, Webhook
from baton.store import Store
from baton.store.webhook_records import AttemptOutcome, NewDelivery, ToldState
from tests.store.store_builders import make_run, start

pytestmark = pytest.mark.timeout(60)


def _delivery(delivery_id: str, run: str, *, key: str | None = None, sub: str = "webhook:a") -> NewDelivery:
    return NewDelivery(
        delivery_id=delivery_id,
        event_key=key or delivery_id,
        subscription=sub,
        workflow_id=run,
        event_name="workflow.state.changed",
        url="http://127.0.0.1:9/hook",
        body='{"id":"' + delivery_id + '"}',
        signature="UNSIGNED",
        created_at=1_000,
        give_up_at=100_000,
    )


def _attempt(number: int, status: DeliveryStatus, next_at: int = 0, code: int | None = 200) -> AttemptOutcome:
    return AttemptOutcome(
        attempt=DeliveryAttempt(attempt=number, at=2_000, duration_ms=5, status_code=code),
        status=status,
        next_attempt_at=next_at,
    )


async def _end(store: Store, workflow_id: str, end_time: int) -> None:
    def end(loaded: Workflow, definition: WorkflowDef) -> Decision:
        return Decision(workflow=msgspec.structs.replace(loaded, status=WorkflowStatus.COMPLETED, end_time=end_time))

    await store.transact(workflow_id, end)


async def test_server_wide_subscriptions_are_created_listed_replaced_and_deleted(store: Store) -> None:
    hook = Webhook(id="a", url="http://x/h", events=["workflow.completed"], secret="s", created_at=1, updated_at=1)
    await store.create_webhook(hook)
    with pytest.raises(ConflictError, match="Webhook a already exists"):
        await store.create_webhook(msgspec.structs.replace(hook, url="http://y/h"))
    await store.create_webhook(Webhook(id="b", url="http://z/h", events=["workflow.state.changed"], created_at=2))
    assert await store.get_webhook("a") == hook
    assert [w.id for w in await store.list_webhooks()] == ["a", "b"]

    changed = msgspec.structs.replace(hook, url="http://y/h", secret=None, enabled=False, updated_at=5)
    assert await store.update_webhook(changed)
    assert await store.get_webhook("a") == changed
    assert not await store.update_webhook(msgspec.structs.replace(hook, id="missing"))
    assert await store.delete_webhook("a")
    assert not await store.delete_webhook("a")
    assert await store.get_webhook("a") is None
    assert [w.id for w in await store.list_webhooks()] == ["b"]


async def test_run_subscriptions_are_watched_until_the_end_is_recorded(store: Store) -> None:
    await start(store, make_run("wf-1"))
    await start(store, make_run("wf-2"))
    subs = [{"type": "webhook", "url": "http://x/h", "events": ["workflow.completed"]}]
    assert not await store.put_run_subscriptions("missing", subs, 1)
    assert await store.put_run_subscriptions("wf-1", subs, 1)
    assert await store.put_run_subscriptions("wf-2", subs, 1)
    assert await store.run_subscriptions("wf-1") == subs
    assert await store.run_subscriptions("missing") == []
    assert sorted(await store.watched_running_runs(10)) == ["wf-1", "wf-2"]
    assert await store.watched_ended_runs(10_000, 10) == []

    await _end(store, "wf-1", 5_000)
    assert await store.watched_running_runs(10) == ["wf-2"]
    assert await store.watched_ended_runs(5_000, 10) == ["wf-1"]
    assert await store.watched_ended_runs(4_999, 10) == []

    await store.record_deliveries([_delivery("d-1", "wf-1")], stop_watching="wf-1")
    assert await store.watched_ended_runs(10_000, 10) == []
    # Recorded twice (a signal taken up again): once.
    await store.record_deliveries([_delivery("d-1b", "wf-1", key="d-1")])
    assert [d.id for d in await store.list_deliveries(status=None, workflow_id="wf-1", limit=10)] == ["d-1"]

    # Subscriptions go with their run.
    assert await store.delete_run("wf-2")
    assert await store.run_subscriptions("wf-2") == []
    assert await store.watched_running_runs(10) == []


async def test_only_the_oldest_pending_delivery_of_a_chain_is_claimed(store: Store) -> None:
    await store.record_deliveries(
        [
            _delivery("r1-a", "r1"),
            _delivery("r1-b", "r1"),
            _delivery("r1-other", "r1", sub="run:0"),
            _delivery("r2-a", "r2"),
        ]
    )
    claimed = await store.claim_deliveries(1_000, 50_000, "t1", 10)
    assert sorted(c.delivery_id for c in claimed) == ["r1-a", "r1-other", "r2-a"]
    assert {c.attempt for c in claimed} == {1}
    # Leased: nobody else gets them, nor what waits behind them.
    assert await store.claim_deliveries(2_000, 50_000, "t2", 10) == []

    by_id = {c.delivery_id: c for c in claimed}
    assert await store.finish_attempt(by_id["r1-a"], _attempt(1, DeliveryStatus.DELIVERED))
    assert await store.finish_attempt(by_id["r2-a"], _attempt(1, DeliveryStatus.PENDING, next_at=9_000, code=500))
    assert await store.finish_attempt(by_id["r1-other"], _attempt(1, DeliveryStatus.FAILED, code=500))
    # A finished lease is not finished twice.
    assert not await store.finish_attempt(by_id["r1-a"], _attempt(1, DeliveryStatus.DELIVERED))

    assert [c.delivery_id for c in await store.claim_deliveries(2_000, 50_000, "t3", 10)] == ["r1-b"]
    again = await store.claim_deliveries(9_000, 50_000, "t4", 10)
    assert [(c.delivery_id, c.attempt) for c in again] == [("r2-a", 2)]

    delivered = await store.get_delivery("r1-a")
    assert delivered is not None and delivered.status is DeliveryStatus.DELIVERED
    assert delivered.delivered_at == 2_005 and delivered.last_status_code == 200
    assert [a.attempt for a in delivered.attempts] == [1]
    assert await store.get_delivery("missing") is None
    assert await store.delivery_body("r1-a") == '{"id":"r1-a"}'
    assert await store.delivery_body("missing") is None
    failed = await store.list_deliveries(status=DeliveryStatus.FAILED, workflow_id=None, limit=10)
    assert [d.id for d in failed] == ["r1-other"]
    assert [d.id for d in await store.list_deliveries(status=None, workflow_id=None, limit=2)] == ["r2-a", "r1-other"]
    pending = await store.list_deliveries(status=DeliveryStatus.PENDING, workflow_id="r1", limit=10)
    assert [d.id for d in pending] == ["r1-b"]


async def test_a_delivery_is_redelivered_unless_an_attempt_is_under_way(store: Store) -> None:
    await store.record_deliveries([_delivery("d-1", "r1")])
    [claimed] = await store.claim_deliveries(1_000, 50_000, "t1", 10)
    with pytest.raises(ConflictError, match="being attempted"):
        await store.redeliver("d-1", 2_000, 90_000)
    await store.finish_attempt(claimed, _attempt(1, DeliveryStatus.FAILED, code=500))
    assert not await store.redeliver("missing", 2_000, 90_000)
    assert await store.redeliver("d-1", 3_000, 90_000)
    again = await store.get_delivery("d-1")
    assert again is not None and again.status is DeliveryStatus.PENDING
    assert again.next_attempt_at == 3_000 and again.give_up_at == 90_000
    [claimed] = await store.claim_deliveries(3_000, 50_000, "t2", 10)
    assert claimed.attempt == 2


async def test_concurrent_claims_never_share_a_delivery(store: Store) -> None:
    await store.record_deliveries([_delivery(f"d-{i}", f"r{i}") for i in range(40)])
    batches = await asyncio.gather(*(store.claim_deliveries(1_000, 50_000, f"t{i}", 7) for i in range(8)))
    ids = [c.delivery_id for batch in batches for c in batch]
    assert len(ids) == len(set(ids)) == 40


async def test_old_finished_deliveries_are_deleted(store: Store) -> None:
    await store.record_deliveries([_delivery("old", "r1"), _delivery("pending", "r2")])
    [claimed, _] = sorted(await store.claim_deliveries(1_000, 50_000, "t", 10), key=lambda c: c.delivery_id)
    await store.finish_attempt(claimed, _attempt(1, DeliveryStatus.DELIVERED))
    assert await store.delete_deliveries_before(1_001, 10) == 1
    assert await store.get_delivery("old") is None
    assert await store.get_delivery("pending") is not None


async def test_what_was_told_of_a_run_is_recorded_over_the_version_read_with_its_deliveries(store: Store) -> None:
    await start(store, make_run("wf-t"))
    assert await store.told_state("wf-t") is None
    assert not await store.record_told_state("missing", version=0, state="a", documents={}, now=1)

    first = [_delivery("d-1", "wf-t", key="wf-t:state:1")]
    assert await store.record_told_state(
        "wf-t", version=0, state="manual_review", documents={"doc": "approved"}, now=1, deliveries=first
    )
    told = await store.told_state("wf-t")
    assert told == ToldState(version=1, state="manual_review", documents={"doc": "approved"})
    # Two checks that read version 0 (or one acted on twice): the second records nothing, not even its deliveries.
    again = [_delivery("d-2", "wf-t", key="wf-t:state:1b")]
    assert not await store.record_told_state("wf-t", version=0, state="x", documents={}, now=2, deliveries=again)
    assert not await store.record_told_state("wf-t", version=5, state="x", documents={}, now=2, deliveries=again)
    assert await store.told_state("wf-t") == told
    assert [d.id for d in await store.list_deliveries(status=None, workflow_id="wf-t", limit=10)] == ["d-1"]

    assert await store.record_told_state("wf-t", version=1, state=None, documents={}, now=3)
    assert await store.told_state("wf-t") == ToldState(version=2, state=None, documents={})
    assert [d.id for d in await store.list_deliveries(status=None, workflow_id="wf-t", limit=10)] == ["d-1"]
