"""The store contract (``baton/store/roles.py``) for event handlers and their executions, on every backend."""

from __future__ import annotations

import pytest

from baton.engine.decision import Decision, Signal, SignalKind
from baton.errors import ConflictError
from baton.model.events import (
    Action,
    ActionKind,
    EventExecution,
    EventHandler,
    ExecutionStatus,
    StartWorkflowAction,
)
from baton.store import Store
from tests.store.store_builders import make_def, make_run

pytestmark = pytest.mark.timeout(60)


def _handler(name: str, event: str, *, active: bool = True, workflow: str = "w") -> EventHandler:
    action = Action(action=ActionKind.START_WORKFLOW, start_workflow=StartWorkflowAction(name=workflow))
    return EventHandler(name=name, event=event, actions=[action], active=active, condition="$.x > 1")


async def test_handlers_are_created_once_listed_by_event_and_activity(store: Store) -> None:
    first = _handler("h-b", "conductor:w:one")
    second = _handler("h-a", "conductor:w:one", active=False)
    third = _handler("h-c", "conductor:w:two")
    for handler in (first, second, third):
        await store.create_event_handler(handler)

    with pytest.raises(ConflictError, match="EventHandler with name h-b already exists!"):
        await store.create_event_handler(_handler("h-b", "other", workflow="changed"))

    assert await store.list_event_handlers() == [second, first, third]
    assert await store.list_event_handlers(active_only=True) == [first, third]
    assert await store.list_event_handlers("conductor:w:one") == [second, first]
    assert await store.list_event_handlers("conductor:w:one", active_only=True) == [first]
    assert await store.list_event_handlers("nothing") == []


async def test_a_handler_is_replaced_and_deleted_by_name(store: Store) -> None:
    await store.create_event_handler(_handler("h", "e-1"))
    moved = _handler("h", "e-2", active=False, workflow="other")

    assert await store.update_event_handler(moved) is True
    assert await store.update_event_handler(_handler("missing", "e-1")) is False
    assert await store.list_event_handlers("e-1") == []
    assert await store.list_event_handlers("e-2") == [moved]

    assert await store.delete_event_handler("h") is True
    assert await store.delete_event_handler("h") is False
    assert await store.list_event_handlers() == []


def execution(execution_id: str, message_id: str, status: ExecutionStatus, created: int = 5) -> EventExecution:
    return EventExecution(
        id=execution_id,
        message_id=message_id,
        name="h",
        event="e",
        created=created,
        status=status,
        action=ActionKind.START_WORKFLOW,
        output={"workflowId": "w-1", "text": "ü"},
    )


async def test_executions_are_recorded_once_per_id_and_read_by_message(store: Store) -> None:
    done = execution("m-1_h_0", "m-1", ExecutionStatus.COMPLETED)
    failed = execution("m-1_h_1", "m-1", ExecutionStatus.FAILED)
    await store.add_event_executions([done])
    await store.add_event_executions([])
    await store.add_event_executions([execution("m-1_h_0", "m-1", ExecutionStatus.FAILED), failed])
    await store.add_event_executions([execution("m-2_h_0", "m-2", ExecutionStatus.SKIPPED)])

    assert await store.event_executions("m-1") == [done, failed]
    assert [e.id for e in await store.event_executions("m-2")] == ["m-2_h_0"]
    assert await store.event_executions("m-3") == []


async def test_a_published_event_travels_in_the_outbox_with_its_payload(store: Store) -> None:
    signal = Signal(
        signal_id="s-1",
        kind=SignalKind.EVENT_PUBLISHED,
        source_workflow_id="wf-1",
        target_workflow_id="wf-1",
        task_id="t-1",
        name="conductor:w:ref",
        payload={"orderId": "o-1", "nested": {"list": [1, 2.5, None, True]}},
        created_at=10,
    )
    await store.create_run(Decision(workflow=make_run("wf-1"), signals=[signal]), make_def())

    assert await store.signals_created_before(11, 10) == [signal]


async def test_old_executions_are_deleted_oldest_first_in_batches(store: Store) -> None:
    await store.add_event_executions(
        [execution(f"m-{n}_h_0", f"m-{n}", ExecutionStatus.COMPLETED, created=n) for n in (30, 10, 20, 40)]
    )
    assert await store.delete_event_executions_before(35, 2) == 2
    assert await store.event_executions("m-10") == await store.event_executions("m-20") == []
    assert await store.delete_event_executions_before(35, 2) == 1
    assert await store.delete_event_executions_before(35, 2) == 0
    assert [e.id for e in await store.event_executions("m-40")] == ["m-40_h_0"]
