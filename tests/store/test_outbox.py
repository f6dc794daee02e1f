"""The outbox and the queued server-run task types, on every backend."""

from __future__ import annotations

import msgspec
import pytest

from baton.engine.decision import Decision, Refusal, Signal, SignalKind
from baton.model import TaskStatus, TaskType, Workflow, WorkflowDef, WorkflowStatus
from baton.store import Store
from tests.store.store_builders import make_def, make_run, make_task

pytestmark = pytest.mark.timeout(60)


def _signal(signal_id: str, created_at: int, kind: SignalKind = SignalKind.CHILD_ENDED) -> Signal:
    return Signal(
        signal_id=signal_id,
        kind=kind,
        source_workflow_id="wf-1",
        target_workflow_id="parent-1",
        task_id="ptask-1",
        created_at=created_at,
    )


async def test_signals_are_written_with_the_decision_and_read_oldest_first(store: Store) -> None:
    run = make_run("wf-1")
    first = _signal("s-1", 1_000)
    await store.create_run(Decision(workflow=run, signals=[first]), make_def())

    def end(loaded: Workflow, definition: WorkflowDef) -> Decision:
        ended = msgspec.structs.replace(loaded, status=WorkflowStatus.COMPLETED, end_time=2_000)
        return Decision(workflow=ended, signals=[_signal("s-2", 2_000, SignalKind.TERMINATE_CHILD)])

    await store.transact("wf-1", end)
    assert await store.signals_created_before(1_000, 10) == []
    assert [s.signal_id for s in await store.signals_created_before(1_001, 10)] == ["s-1"]
    both = await store.signals_created_before(10_000, 10)
    assert both == [first, _signal("s-2", 2_000, SignalKind.TERMINATE_CHILD)]
    assert [s.signal_id for s in await store.signals_created_before(10_000, 1)] == ["s-1"]

    await store.delete_signal("s-1")
    await store.delete_signal("s-1")
    assert [s.signal_id for s in await store.signals_created_before(10_000, 10)] == ["s-2"]


async def test_a_refused_decision_writes_no_signal(store: Store) -> None:
    await store.create_run(Decision(workflow=make_run("wf-1")), make_def())

    def refuse(loaded: Workflow, definition: WorkflowDef) -> Decision:
        return Decision(workflow=loaded, signals=[_signal("s-1", 1)], refusal=Refusal(kind="conflict", message="no"))

    await store.transact("wf-1", refuse)
    assert await store.signals_created_before(10_000, 10) == []


async def test_server_run_task_types_are_queued_and_claimed_with_a_lease(store: Store) -> None:
    run = make_run("wf-1")
    tasks = [
        make_task(run, f"t-{kind.value}", seq=seq, task_type=kind.value, response_timeout_seconds=30)
        for seq, kind in enumerate(
            (TaskType.HTTP, TaskType.EVENT, TaskType.SUB_WORKFLOW, TaskType.START_WORKFLOW, TaskType.INLINE), 1
        )
    ]
    await store.create_run(Decision(workflow=run, created=tasks), make_def())
    sizes = await store.queue_sizes(["HTTP", "EVENT", "SUB_WORKFLOW", "START_WORKFLOW", "INLINE"])
    assert sizes == {"HTTP": 1, "EVENT": 1, "SUB_WORKFLOW": 1, "START_WORKFLOW": 1, "INLINE": 0}
    [claimed] = await store.claim_tasks("HTTP", worker_id="server", count=5, now=5_000)
    assert claimed.task_id == "t-HTTP"
    assert claimed.status is TaskStatus.IN_PROGRESS and claimed.lease_expires_at == 35_000
    assert [t.task_id for t in await store.due_timers(35_000, 10)] == ["t-HTTP"]
