"""A published event is acted on once: through the relay when its process died after the commit, and not again
when it is taken up a second time (a crash after the actions, before the outbox row went).

The service runs on a real store with ``signal_handler`` unset, which is what a
process killed between the EVENT task's commit and acting on its event leaves
behind; the relay then acts on it, as any server would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from baton.engine import SignalKind
from baton.model import StartWorkflowRequest, TaskResultStatus, TaskStatus, WorkflowStatus
from baton.model.codec import convert
from baton.model.events import ActionKind, EventHandler, ExecutionStatus
from baton.runtime.retention import Retention
from baton.service import Baton
from tests.runtime.relay_support import T0, Clock, relay_later, service_left_to_the_relay

pytestmark = pytest.mark.timeout(60)

EVENT = "conductor:source:done"

SOURCE: dict[str, Any] = {
    "name": "source",
    "tasks": [
        {
            "name": "publish",
            "taskReferenceName": "publish",
            "type": "EVENT",
            "sink": "conductor:done",
            "inputParameters": {"n": "${workflow.input.n}"},
        }
    ],
}
TARGET: dict[str, Any] = {"name": "target", "tasks": [{"name": "hold", "taskReferenceName": "hold", "type": "WAIT"}]}


@pytest.fixture
async def service(store_url: str) -> AsyncIterator[Baton]:
    async with service_left_to_the_relay(store_url, SOURCE, TARGET) as baton:
        yield baton


async def _handler(service: Baton, *actions: dict[str, Any], condition: str | None = None, name: str = "h") -> None:
    body = {"name": name, "event": EVENT, "active": True, "condition": condition, "actions": list(actions)}
    await service.events.create(convert(body, EventHandler))


async def _published(service: Baton, n: int, **extra: Any) -> str:
    """A source run whose EVENT task published (as the executor does) and nothing acted on it yet; its id."""
    source = await service.runs.start(StartWorkflowRequest(name="source", input={"n": n}))
    [task] = await service.store.claim_tasks("EVENT", worker_id="server", count=1, now=T0)
    payload = {**task.input_data, "workflowInstanceId": source.workflow_id, **extra}
    await service.events.publish(task, TaskResultStatus.COMPLETED, EVENT, payload, worker_id="server")
    return source.workflow_id


async def _targets(service: Baton, source_id: str) -> list[str]:
    runs = await service.runs.correlated("target", source_id, include_closed=True, include_tasks=False)
    return [run.workflow_id for run in runs]


START = {"action": "start_workflow", "start_workflow": {"name": "target", "correlationId": "${workflowInstanceId}"}}


async def test_the_task_ends_with_its_event_in_the_outbox_and_the_relay_acts_on_it_once(service: Baton) -> None:
    await _handler(service, START)
    source_id = await _published(service, 1)
    source = await service.runs.get(source_id)
    assert source.status is WorkflowStatus.COMPLETED
    assert source.tasks[0].status is TaskStatus.COMPLETED
    [signal] = await service.store.signals_created_before(T0 + 1, 10)
    assert (signal.kind, signal.name, signal.payload) == (
        SignalKind.EVENT_PUBLISHED,
        EVENT,
        {"n": 1, "workflowInstanceId": source_id},
    )
    assert await _targets(service, source_id) == []

    assert await relay_later(service) == 1
    [target_id] = await _targets(service, source_id)
    assert (await service.runs.get(target_id)).input["conductor.event.messageId"] == signal.signal_id
    [execution] = await service.store.event_executions(signal.signal_id)
    assert (execution.status, execution.action, execution.output) == (
        ExecutionStatus.COMPLETED,
        ActionKind.START_WORKFLOW,
        {"workflowId": target_id},
    )
    assert await relay_later(service) == 0, "an event acted on leaves the outbox"

    # Taken up again (as if the process died before the outbox row was removed): nothing runs twice.
    await service.handle_signal(signal)
    assert await _targets(service, source_id) == [target_id]


async def test_an_action_whose_record_was_lost_runs_again_without_a_second_run(service: Baton) -> None:
    await _handler(service, START)
    source_id = await _published(service, 2)
    [signal] = await service.store.signals_created_before(T0 + 1, 10)
    # A crash right after the action started its run, before its record was written: the run exists, no record.
    request = StartWorkflowRequest(name="target", correlation_id=source_id, idempotency_key=f"{signal.signal_id}_h_0")
    first = await service.runs.start(request)
    assert await service.store.event_executions(signal.signal_id) == []

    assert await relay_later(service) == 1
    assert await _targets(service, source_id) == [first.workflow_id]
    [execution] = await service.store.event_executions(signal.signal_id)
    assert execution.output == {"workflowId": first.workflow_id}


async def test_a_failed_action_is_recorded_and_not_retried(service: Baton) -> None:
    await _handler(
        service,
        {"action": "start_workflow", "start_workflow": {"name": "no_such_workflow"}},
        {"action": "terminate_workflow", "terminate_workflow": {"workflowId": "${workflowInstanceId}"}},
    )
    source_id = await _published(service, 3)
    [signal] = await service.store.signals_created_before(T0 + 1, 10)

    assert await relay_later(service) == 1
    failed, terminated = await service.store.event_executions(signal.signal_id)
    assert failed.status is ExecutionStatus.FAILED
    assert "no_such_workflow" in failed.output["exception"]
    # The source run had already completed: terminating it is refused, and that is recorded too.
    assert terminated.status is ExecutionStatus.FAILED
    assert "COMPLETED" in terminated.output["exception"]
    assert await relay_later(service) == 0, "a failed action is not tried again"
    assert (await service.runs.get(source_id)).status is WorkflowStatus.COMPLETED


async def test_a_false_condition_is_recorded_as_skipped(service: Baton) -> None:
    await _handler(service, START, condition="$.n > 10")
    source_id = await _published(service, 4)
    [signal] = await service.store.signals_created_before(T0 + 1, 10)
    assert await relay_later(service) == 1
    [skipped] = await service.store.event_executions(signal.signal_id)
    assert (skipped.status, skipped.id) == (ExecutionStatus.SKIPPED, f"{signal.signal_id}_h_condition")
    assert await _targets(service, source_id) == []


async def test_a_handler_with_the_longest_name_starts_its_run(service: Baton) -> None:
    await _handler(service, START, name="h" * 255)
    source_id = await _published(service, 5)
    [signal] = await service.store.signals_created_before(T0 + 1, 10)
    await service.handle_signal(signal)
    [target_id] = await _targets(service, source_id)
    [execution] = await service.store.event_executions(signal.signal_id)
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.output == {"workflowId": target_id}


async def test_a_payload_no_handler_can_read_is_recorded_failed_not_retried_forever(service: Baton) -> None:
    deep = "[" * 100_000 + "]" * 100_000  # inline JSON nested far past Python's recursion limit
    await _handler(service, START, condition="true", name="by_condition")
    await _handler(service, {**START, "expandInlineJSON": True}, name="by_action")
    source_id = await _published(service, 6, deep=deep)
    [signal] = await service.store.signals_created_before(T0 + 1, 10)

    assert await relay_later(service) == 1
    executions = {e.id: e for e in await service.store.event_executions(signal.signal_id)}
    assert set(executions) == {f"{signal.signal_id}_by_action_0", f"{signal.signal_id}_by_condition_condition"}
    assert all(e.status is ExecutionStatus.FAILED for e in executions.values())
    assert await relay_later(service) == 0
    assert await _targets(service, source_id) == []


async def test_retention_forgets_old_executions(service: Baton) -> None:
    await _handler(service, START)
    await _published(service, 7)
    [signal] = await service.store.signals_created_before(T0 + 1, 10)
    await service.handle_signal(signal)
    retention = Retention(service.search, retention_days=1, interval_ms=60_000, events=service.events)
    await retention.run_once()
    assert len(await service.store.event_executions(signal.signal_id)) == 1, "a day has not passed"

    clock = service.context.clock
    assert isinstance(clock, Clock)
    clock.now += 86_400_000 + 1
    await retention.run_once()
    assert await service.store.event_executions(signal.signal_id) == []
