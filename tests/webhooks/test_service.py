"""Webhooks recorded and sent by the service and its sender, in process, on both stores, to a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest

from baton.config import Settings
from baton.engine import SignalKind
from baton.errors import NotFoundError, ValidationError
from baton.model import StartWorkflowRequest, TaskResultStatus, WorkflowDef, WorkflowTask
from baton.model.webhooks import DeliveryStatus, WebhookDelivery
from baton.runtime.relay import OutboxRelay
from baton.runtime.retention import Retention
from baton.runtime.webhook_delivery import WebhookDelivery as Sender
from baton.service import Baton
from baton.store import open_store
from tests.webhooks.receiver import Receiver, arrival, running_receiver

pytestmark = pytest.mark.timeout(60)

SERVER_SECRET = "server-secret"
FLOW = WorkflowDef(
    name="webhook_flow",
    version=1,
    tasks=[WorkflowTask(name="review", task_reference_name="review", type="WAIT")],
)


@asynccontextmanager
async def baton_on(store_url: str, **overrides: Any) -> AsyncIterator[Baton]:
    """The service on a real store with its webhook sender running, quick to retry."""
    settings = Settings(
        database_url=store_url,
        webhook_secret=SERVER_SECRET,
        webhook_backoff_initial_ms=50,
        webhook_backoff_max_ms=100,
        webhook_poll_interval_ms=20,
        outbox_relay_after_ms=200,
        **{"outbound_allow_networks": "127.0.0.0/8", **overrides},
    )
    store = open_store(store_url)
    await store.open()
    service = Baton(store, settings)
    await service.definitions.register_workflow(FLOW, overwrite=True)
    await service.webhooks.load()
    sender = Sender(service)
    sender.start()
    try:
        yield service
    finally:
        await sender.stop()
        service.context.decisions.close()
        await store.close()


@pytest.fixture
def receiver() -> Any:
    with running_receiver() as running:
        yield running


async def _start(service: Baton, entity: str = "biz-1") -> str:
    request = StartWorkflowRequest(
        name=FLOW.name, correlation_id=f"corr-{entity}", input={"entity": {"type": "business", "id": entity}}
    )
    return (await service.runs.start(request)).workflow_id


async def _finish(service: Baton, workflow_id: str) -> None:
    await service.tasks.complete_by_ref(workflow_id, "review", TaskResultStatus.COMPLETED, {"decision": "approve"})


async def _deliveries_until(
    service: Baton, workflow_id: str, done: Callable[[list[WebhookDelivery]], bool]
) -> list[WebhookDelivery]:
    for _ in range(750):
        found = await service.webhooks.deliveries(workflow_id=workflow_id)
        if done(found):
            return found
        await asyncio.sleep(0.02)
    raise AssertionError(f"deliveries of {workflow_id} never got there: {found}")


async def test_a_runs_events_reach_each_subscription_in_order_signed_and_keyed(
    store_url: str, receiver: Receiver
) -> None:
    with running_receiver() as second:
        # The second answer of the run's own subscription is a 500 once: it is sent again before the next.
        failed_once: set[int] = set()

        def answer(body: dict[str, Any]) -> int:
            n = body["data"].get("n")
            if n == 2 and n not in failed_once:
                failed_once.add(n)
                return 500
            return 200

        receiver.answer = answer
        async with baton_on(store_url) as service:
            workflow_id = await _start(service)
            await service.webhooks.subscribe_run(
                workflow_id,
                [
                    {
                        "type": "webhook",
                        "url": receiver.url,
                        "events": ["workflow.state.changed", "workflow.completed"],
                        "secret": "own-secret",
                    },
                    {"type": "webhook", "url": second.url, "events": ["workflow.completed"]},
                ],
            )
            for n in range(5):
                await service.webhooks.emit(
                    workflow_id, "workflow.state.changed", {"n": n}, extra={"state": f"step-{n}"}
                )
            await _finish(service, workflow_id)

            got = await arrival(receiver, workflow_id, 7)
            [end_elsewhere] = await arrival(second, workflow_id, 1)
            deliveries = await _deliveries_until(
                service, workflow_id, lambda found: all(d.status is DeliveryStatus.DELIVERED for d in found)
            )

    # Five events emitted, then the run's own: its state changed as it ended (told before its end).
    assert [r.body["eventName"] for r in got] == ["workflow.state.changed"] * 6 + ["workflow.completed"]
    assert [r.body["data"].get("n") for r in got[:5]] == [0, 1, 2, 3, 4]
    assert [r.body["state"] for r in got[:6]] == ["step-0", "step-1", "step-2", "step-3", "step-4", "completed"]
    assert all(r.signed_with("own-secret") for r in got)
    assert end_elsewhere.signed_with(SERVER_SECRET)
    assert all(r.headers["idempotency-key"] == r.body["id"] for r in (*got, end_elsewhere))
    assert len({r.body["id"] for r in (*got, end_elsewhere)}) == 8

    # The 500 was answered to the same bytes that came again.
    refused = [r for r in receiver.of_run(workflow_id, answered=500)]
    assert len(refused) == 1 and refused[0].raw == got[2].raw

    end = got[6].body
    assert end["workflowRuntimeId"] == workflow_id
    assert end["workflowDefinitionId"] == FLOW.name
    assert end["ballerineEntityId"] == "biz-1"
    assert end["correlationId"] == "corr-biz-1"
    assert end["workflowStatus"] == "completed" and end["workflowFinalState"] == "completed"
    assert end["data"]["entity"]["id"] == "biz-1" and end["data"]["decision"] == "approve"
    assert end["environment"] == "production" and end["apiVersion"]
    assert end_elsewhere.body["data"] == end["data"]

    third = next(d for d in deliveries if d.id == got[2].body["id"])
    assert [(a.attempt, a.status_code) for a in third.attempts] == [(1, 500), (2, 200)]
    assert third.subscription == "run:0" and third.delivered_at is not None


async def test_a_delivery_given_up_after_the_window_lets_the_next_go_and_is_redelivered(
    store_url: str, receiver: Receiver
) -> None:
    receiver.answer = lambda body: 500 if body["data"].get("n") == 1 else 200
    async with baton_on(store_url, webhook_retry_window_ms=400) as service:
        workflow_id = await _start(service, "biz-2")
        subscription = {"type": "webhook", "url": receiver.url, "events": ["workflow.state.changed"]}
        await service.webhooks.subscribe_run(workflow_id, [subscription])
        await service.webhooks.emit(workflow_id, "workflow.state.changed", {"n": 1})
        await service.webhooks.emit(workflow_id, "workflow.state.changed", {"n": 2})
        [after] = await arrival(receiver, workflow_id, 1)
        assert after.body["data"] == {"n": 2}
        # Every attempt at the first came before the second went.
        refused = receiver.of_run(workflow_id, answered=500)
        assert len(refused) >= 2
        assert receiver.received.index(refused[-1]) < receiver.received.index(after)

        [failed] = await service.webhooks.deliveries(status=DeliveryStatus.FAILED, workflow_id=workflow_id)
        assert failed.last_status_code == 500 and len(failed.attempts) == len(refused)
        assert failed.last_error is not None and failed.last_error.startswith("answered 500")

        receiver.answer = lambda body: 200
        again = await service.webhooks.redeliver(failed.id)
        assert again.status is DeliveryStatus.PENDING
        got = await arrival(receiver, workflow_id, 2)
        assert got[1].raw == refused[0].raw
        await _deliveries_until(
            service, workflow_id, lambda found: all(d.status is DeliveryStatus.DELIVERED for d in found)
        )


async def test_a_run_ended_before_it_was_subscribed_gets_its_end(store_url: str, receiver: Receiver) -> None:
    async with baton_on(store_url) as service:
        workflow_id = await _start(service, "biz-3")
        await service.runs.terminate(workflow_id, "changed my mind")
        await service.webhooks.subscribe_run(
            workflow_id, [{"type": "webhook", "url": receiver.url, "events": ["workflow.completed"]}]
        )
        [end] = await arrival(receiver, workflow_id, 1)
    assert end.body["workflowStatus"] == "failed"
    assert end.body["workflowFinalState"] == "terminated"
    assert end.body["reasonForIncompletion"] == "changed my mind"


async def test_an_end_no_signal_reported_is_caught_up(store_url: str, receiver: Receiver) -> None:
    async with baton_on(store_url) as service:
        workflow_id = await _start(service, "biz-4")
        # Subscribed on another server: this one does not watch the run, so its end writes no signal.
        subscription = {"type": "webhook", "url": receiver.url, "events": ["workflow.completed"]}
        assert await service.store.put_run_subscriptions(workflow_id, [subscription], 0)
        await _finish(service, workflow_id)
        assert await service.store.signals_created_before(2**62, 100) == []
        [end] = await arrival(receiver, workflow_id, 1)
        assert end.body["workflowStatus"] == "completed"
        assert await service.store.watched_ended_runs(2**62, 10) == []


async def test_runs_nobody_subscribed_to_write_nothing(store_url: str, receiver: Receiver) -> None:
    async with baton_on(store_url) as service:
        workflow_id = await _start(service, "biz-5")
        await service.webhooks.emit(workflow_id, "workflow.state.changed", {"n": 1})
        await _finish(service, workflow_id)
        assert await service.store.signals_created_before(2**62, 100) == []
        assert await service.webhooks.deliveries(workflow_id=workflow_id) == []


async def test_bad_subscriptions_and_events_are_refused_naming_the_field(store_url: str) -> None:
    async with baton_on(store_url) as service:
        workflow_id = await _start(service, "biz-6")
        with pytest.raises(ValidationError) as refused:
            await service.webhooks.subscribe_run(
                workflow_id,
                [{"type": "webhook", "url": "ftp://x", "events": ["workflow.completed", "nope"], "extra": 1}],
            )
        assert [e.path for e in refused.value.errors] == [
            "config.subscriptions[0].url",
            "config.subscriptions[0].events[1]",
            "config.subscriptions[0].extra",
        ]
        assert await service.store.run_subscriptions(workflow_id) == []
        with pytest.raises(NotFoundError):
            await service.webhooks.subscribe_run(
                "no-such-run", [{"type": "webhook", "url": "http://x/h", "events": ["workflow.completed"]}]
            )
        with pytest.raises(ValidationError, match="eventName"):
            await service.webhooks.emit(workflow_id, "workflow.context.changed", {})
        with pytest.raises(NotFoundError):
            await service.webhooks.emit("no-such-run", "workflow.state.changed", {})


async def test_a_watched_end_waits_in_the_outbox_and_is_recorded_once(store_url: str, receiver: Receiver) -> None:
    async with baton_on(store_url) as service:
        workflow_id = await _start(service, "biz-7")
        subscription = {"type": "webhook", "url": receiver.url, "events": ["workflow.completed"]}
        await service.webhooks.subscribe_run(workflow_id, [subscription])
        handler = service.context.signal_handler
        service.context.signal_handler = None  # the process dies right after the ending commit
        await _finish(service, workflow_id)
        [signal] = await service.store.signals_created_before(2**62, 10)
        assert signal.kind is SignalKind.RUN_ENDED and signal.target_workflow_id == workflow_id

        service.context.signal_handler = handler
        await asyncio.sleep(0.25)
        assert await OutboxRelay(service).relay_once() == 1  # any server's relay takes it up
        assert await service.store.signals_created_before(2**62, 10) == []
        await arrival(receiver, workflow_id, 1)
        await asyncio.sleep(0.5)  # the catch-up has looked too: the end is recorded once
        assert len(receiver.of_run(workflow_id)) == 1
        assert len(await service.webhooks.deliveries(workflow_id=workflow_id)) == 1


async def test_retention_forgets_finished_deliveries_and_keeps_pending_ones(store_url: str, receiver: Receiver) -> None:
    async with baton_on(store_url) as service:
        workflow_id = await _start(service, "biz-8")
        subscription = {"type": "webhook", "url": receiver.url, "events": ["workflow.state.changed"]}
        await service.webhooks.subscribe_run(workflow_id, [subscription])
        await service.webhooks.emit(workflow_id, "workflow.state.changed", {"n": 1})
        await arrival(receiver, workflow_id, 1)
        await _deliveries_until(service, workflow_id, lambda found: found[0].status is DeliveryStatus.DELIVERED)
        receiver.answer = lambda body: 500
        await service.webhooks.emit(workflow_id, "workflow.state.changed", {"n": 2})
        await asyncio.sleep(0.01)
        retention = Retention(service.search, retention_days=1e-9, interval_ms=60_000, webhooks=service.webhooks)
        await retention.run_once()
        [left] = await service.webhooks.deliveries(workflow_id=workflow_id)
        assert left.status is DeliveryStatus.PENDING


TWO_WAITS = WorkflowDef(
    name="webhook_two_waits",
    version=1,
    tasks=[
        WorkflowTask(name="collect", task_reference_name="collect", type="WAIT"),
        WorkflowTask(name="review", task_reference_name="review", type="WAIT"),
    ],
)


async def test_a_change_is_told_once_however_often_its_signal_is_acted_on(store_url: str, receiver: Receiver) -> None:
    async with baton_on(store_url) as service:
        await service.definitions.register_workflow(TWO_WAITS, overwrite=True)
        workflow_id = (await service.runs.start(StartWorkflowRequest(name=TWO_WAITS.name))).workflow_id
        subscription = {"type": "webhook", "url": receiver.url, "events": ["workflow.state.changed"]}
        await service.webhooks.subscribe_run(workflow_id, [subscription])  # its starting point: "collect"
        service.context.signal_handler = None  # the process dies right after the deciding commit
        await service.tasks.complete_by_ref(workflow_id, "collect", TaskResultStatus.COMPLETED, {})
        [signal] = await service.store.signals_created_before(2**62, 10)
        assert signal.kind is SignalKind.RUN_CHANGED and signal.target_workflow_id == workflow_id
        assert await service.webhooks.deliveries(workflow_id=workflow_id) == []

        await asyncio.gather(service.handle_signal(signal), service.handle_signal(signal))  # two servers at once
        await service.handle_signal(signal)  # and a relay, later
        [told] = await arrival(receiver, workflow_id, 1)
        await asyncio.sleep(0.3)
        assert len(receiver.of_run(workflow_id)) == 1
        assert len(await service.webhooks.deliveries(workflow_id=workflow_id)) == 1
        assert await service.store.signals_created_before(2**62, 10) == []
    assert told.body["eventName"] == "workflow.state.changed" and told.body["state"] == "review"


async def test_a_server_wide_subscription_hears_a_runs_last_state_before_its_end(
    store_url: str, receiver: Receiver
) -> None:
    async with baton_on(store_url) as service:
        events = ["workflow.state.changed", "workflow.completed"]
        await service.webhooks.create_webhook({"url": receiver.url, "events": events})
        workflow_id = await _start(service, "biz-9")  # started elsewhere than Ballerine's API: no starting point
        await _finish(service, workflow_id)  # one decision: the WAIT done, the run ended
        got = await arrival(receiver, workflow_id, 2)
    assert [(r.body["eventName"], r.body.get("state")) for r in got] == [
        ("workflow.state.changed", "completed"),
        ("workflow.completed", None),
    ]


async def test_a_refused_url_fails_its_delivery_at_the_first_attempt_naming_the_address(
    store_url: str, receiver: Receiver
) -> None:
    async with baton_on(store_url, outbound_allow_networks="", webhook_retry_window_ms=60_000) as service:
        workflow_id = await _start(service)
        await service.webhooks.subscribe_run(
            workflow_id, [{"type": "webhook", "url": receiver.url, "events": ["workflow.completed"]}]
        )
        await _finish(service, workflow_id)
        [delivery] = await _deliveries_until(
            service, workflow_id, lambda found: [d.status for d in found] == [DeliveryStatus.FAILED]
        )
    [attempt] = delivery.attempts
    reason = "refused: 127.0.0.1 is a loopback address; allow it with BATON_OUTBOUND_ALLOW_NETWORKS"
    assert attempt.error == reason and attempt.status_code is None
    assert delivery.last_error == reason
    assert receiver.received == []
