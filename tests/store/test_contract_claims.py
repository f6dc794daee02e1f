"""The store contract (``baton/store/roles.py``) for the queue, run against every backend.

Claiming tasks, ``transact_then_claim`` (deciding and claiming in one transaction),
and the timers that follow a claim.
"""

from __future__ import annotations

import msgspec
import pytest

from baton.engine.decision import Decision, Refusal
from baton.errors import NotFoundError
from baton.model import TaskStatus, TaskType, Workflow, WorkflowDef
from baton.store import ClaimRequest, DueTimer, Store
from baton.store.common import plans
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(60)

# -- transact_then_claim -------------------------------------------------------------


def _complete_first(loaded: Workflow, definition: WorkflowDef) -> Decision:
    done = msgspec.structs.replace(loaded.tasks[0], status=TaskStatus.COMPLETED, update_time=2_000)
    nxt = make_task(loaded, f"{loaded.workflow_id}-next", seq=2, task_type="next")
    return Decision(
        workflow=msgspec.structs.replace(loaded, update_time=2_000, tasks=[]), created=[nxt], updated=[done]
    )


async def test_transact_then_claim_decides_and_claims_together(store: Store) -> None:
    a, b = make_run("wf-a"), make_run("wf-b", create_time=2_000)
    await start(store, a, [make_task(a, "a1")])
    await start(store, b, [make_task(b, "b1")])
    asked: list[Decision] = []

    def claim_after(decision: Decision) -> ClaimRequest | None:
        asked.append(decision)
        return ClaimRequest("work", "worker-3", 5, 10_000)

    decision, claimed = await store.transact_then_claim("wf-a", _complete_first, claim_after)

    assert asked == [decision]
    assert [t.task_id for t in claimed] == ["b1"]
    assert claimed[0].status is TaskStatus.IN_PROGRESS and claimed[0].worker_id == "worker-3"
    assert claimed[0].lease_expires_at == 10_000 + 60_000
    assert await store.get_task("b1") == claimed[0]
    stored = await store.get_run("wf-a")
    assert stored is not None
    assert [(t.task_id, t.status) for t in stored.tasks] == [
        ("a1", TaskStatus.COMPLETED),
        ("wf-a-next", TaskStatus.SCHEDULED),
    ]
    assert await store.queue_sizes() == {"next": 1}
    assert await store.due_timers(10_000 + 60_000, 10) == [DueTimer(workflow_id="wf-b", task_id="b1")]


async def test_transact_then_claim_may_claim_what_the_decision_queued(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1")])

    decision, claimed = await store.transact_then_claim(
        "wf-1", _complete_first, lambda d: ClaimRequest("next", None, 1, 10_000)
    )

    assert [t.task_id for t in claimed] == ["wf-1-next"] == [t.task_id for t in decision.created]
    assert await store.queue_sizes() == {}


@pytest.mark.parametrize(
    ("count", "claimed_ids", "queued"), [(1, ["older"], {"next": 1}), (2, ["older", "wf-1-next"], {})]
)
async def test_transact_then_claim_takes_what_was_queued_before_its_decision_first(
    store: Store, count: int, claimed_ids: list[str], queued: dict[str, int]
) -> None:
    other = make_run("wf-0", create_time=500)
    await start(store, other, [make_task(other, "older", task_type="next")])
    run = make_run()
    await start(store, run, [make_task(run, "t1")])

    _, claimed = await store.transact_then_claim(
        "wf-1", _complete_first, lambda d: ClaimRequest("next", "worker-1", count, 10_000)
    )

    assert [t.task_id for t in claimed] == claimed_ids
    assert all(t.status is TaskStatus.IN_PROGRESS and t.worker_id == "worker-1" for t in claimed)
    assert await store.queue_sizes() == queued
    stored = await store.get_run("wf-1")
    assert stored is not None
    expected = TaskStatus.IN_PROGRESS if count == 2 else TaskStatus.SCHEDULED
    assert [(t.task_id, t.status) for t in stored.tasks] == [("t1", TaskStatus.COMPLETED), ("wf-1-next", expected)]


async def test_transact_then_claim_never_hands_out_what_its_decision_takes_off_the_queue(store: Store) -> None:
    a, b = make_run("wf-a"), make_run("wf-b", create_time=2_000)
    await start(store, a, [make_task(a, "a1", seq=1), make_task(a, "a2", seq=2)])
    await start(store, b, [make_task(b, "b1")])

    def cancel_all(loaded: Workflow, definition: WorkflowDef) -> Decision:
        cancelled = [msgspec.structs.replace(t, status=TaskStatus.CANCELED) for t in loaded.tasks]
        return Decision(workflow=loaded, updated=cancelled)

    _, claimed = await store.transact_then_claim("wf-a", cancel_all, lambda d: ClaimRequest("work", "w", 5, 10_000))

    assert [t.task_id for t in claimed] == ["b1"]
    stored = await store.get_run("wf-a")
    assert stored is not None
    assert [(t.task_id, t.status, t.poll_count) for t in stored.tasks] == [
        ("a1", TaskStatus.CANCELED, 0),
        ("a2", TaskStatus.CANCELED, 0),
    ]
    assert await store.queue_sizes() == {}


async def test_transact_then_claim_never_hands_out_what_its_decision_removes(store: Store) -> None:
    a, b = make_run("wf-a"), make_run("wf-b", create_time=2_000)
    await start(store, a, [make_task(a, "a1", seq=1), make_task(a, "a2", seq=2)])
    await start(store, b, [make_task(b, "b1")])

    def remove_all(loaded: Workflow, definition: WorkflowDef) -> Decision:
        return Decision(workflow=loaded, removed=[t.task_id for t in loaded.tasks])

    _, claimed = await store.transact_then_claim("wf-a", remove_all, lambda d: ClaimRequest("work", "w", 5, 10_000))

    assert [t.task_id for t in claimed] == ["b1"]
    stored = await store.get_run("wf-a")
    assert stored is not None and stored.tasks == []
    assert await store.queue_sizes() == {}


async def test_transact_then_claim_nothing_to_claim(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1")])

    _, none_asked = await store.transact_then_claim("wf-1", lambda loaded, _: Decision(workflow=loaded), lambda d: None)
    _, empty = await store.transact_then_claim(
        "wf-1", _complete_first, lambda d: ClaimRequest("absent", "w", 3, 10_000)
    )

    assert none_asked == [] and empty == []
    stored = await store.get_run("wf-1")
    assert stored is not None and stored.tasks[0].status is TaskStatus.COMPLETED


async def test_transact_then_claim_refusal_writes_and_claims_nothing(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1")])
    before = await store.get_run("wf-1")
    asked: list[Decision] = []

    def step(loaded: Workflow, definition: WorkflowDef) -> Decision:
        return Decision(workflow=loaded, refusal=Refusal(kind="conflict", message="no"))

    def claim_after(decision: Decision) -> ClaimRequest | None:
        asked.append(decision)
        return ClaimRequest("work", "w", 1, 10_000)

    decision, claimed = await store.transact_then_claim("wf-1", step, claim_after)

    assert decision.refusal == Refusal(kind="conflict", message="no")
    assert claimed == [] and asked == []
    assert await store.get_run("wf-1") == before
    assert await store.queue_sizes() == {"work": 1}


async def test_transact_then_claim_failure_writes_and_claims_nothing(store: Store) -> None:
    a, b = make_run("wf-a"), make_run("wf-b")
    await start(store, a, [make_task(a, "a1")])
    await start(store, b, [make_task(b, "b1")])
    before = await store.get_run("wf-a")

    def claim_after(decision: Decision) -> ClaimRequest | None:
        raise RuntimeError("claim_after blew up")

    with pytest.raises(RuntimeError, match="claim_after blew up"):
        await store.transact_then_claim("wf-a", _complete_first, claim_after)

    assert await store.get_run("wf-a") == before
    assert await store.queue_sizes() == {"work": 2}
    with pytest.raises(NotFoundError):
        await store.transact_then_claim("missing", _complete_first, lambda d: ClaimRequest("work", "w", 1, 10_000))
    assert await store.queue_sizes() == {"work": 2}


async def test_transact_then_claim_rewrites_tasks_as_the_shared_rule_says(store: Store) -> None:
    a, b = make_run("wf-a"), make_run("wf-b")
    await start(store, a, [make_task(a, "a1")])
    other = make_task(b, "b1")
    other.input_data = {"text": "zürich \u0000 nul", "n": 1}
    await start(store, b, [other])

    _, claimed = await store.transact_then_claim(
        "wf-a", _complete_first, lambda d: ClaimRequest("work", "w9", 1, 10_000)
    )

    assert claimed == [plans.claimed(other, worker_id="w9", now=10_000)]
    assert await store.get_task("b1") == claimed[0]
    stored = await store.get_run("wf-a")
    assert stored is not None and stored.tasks[0].status is TaskStatus.COMPLETED


# -- queue -------------------------------------------------------------------------


async def test_claim_order_priority_then_visible_then_fifo(store: Store) -> None:
    low, high = make_run("low", priority=0), make_run("high", priority=5)
    await start(store, low, [make_task(low, "low-1", seq=1), make_task(low, "low-2", seq=2, visible_at=50)])
    await start(store, high, [make_task(high, "high-1", seq=1, visible_at=70)])
    await start(store, low2 := make_run("low2"), [make_task(low2, "low2-1", seq=1)])
    await start(store, high2 := make_run("high2", priority=5), [make_task(high2, "high2-1", seq=1, visible_at=20)])

    claimed = await store.claim_tasks("work", worker_id="w", count=10, now=100)

    assert [t.task_id for t in claimed] == ["high2-1", "high-1", "low-1", "low2-1", "low-2"]


async def test_claim_skips_invisible_and_other_types(store: Store) -> None:
    run = make_run()
    await start(
        store,
        run,
        [
            make_task(run, "later", seq=1, visible_at=5_000),
            make_task(run, "other", seq=2, task_type="other"),
            make_task(run, "now", seq=3, visible_at=1_000),
        ],
    )

    assert [t.task_id for t in await store.claim_tasks("work", worker_id="w", count=10, now=1_000)] == ["now"]
    assert await store.claim_tasks("work", worker_id="w", count=10, now=4_999) == []
    assert [t.task_id for t in await store.claim_tasks("work", worker_id="w", count=10, now=5_000)] == ["later"]


async def test_claimed_task_is_in_progress_with_a_lease(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1", response_timeout_seconds=30)])

    [claimed] = await store.claim_tasks("work", worker_id="worker-7", count=1, now=10_000)

    assert claimed.status is TaskStatus.IN_PROGRESS
    assert claimed.worker_id == "worker-7"
    assert claimed.poll_count == 1
    assert claimed.start_time == claimed.update_time == 10_000
    assert claimed.lease_expires_at == 40_000
    assert await store.get_task("t1") == claimed
    assert await store.queue_sizes(["work"]) == {"work": 0}
    assert await store.claim_tasks("work", worker_id="w", count=1, now=10_000) == []


@pytest.mark.parametrize("odd_text", ["plain", "a\u0000b"], ids=["plain", "nul"])
async def test_claim_rewrites_tasks_as_the_shared_rule_says(store: Store, odd_text: str) -> None:
    run = make_run()
    rich = msgspec.structs.replace(
        make_task(run, "t1", seq=1, response_timeout_seconds=7),
        poll_count=2,
        worker_id="earlier",
        input_data={"odd": odd_text, "text": 'zürich \u2603 "quoted" \\', "pi": 3.14159, "big": 2**62, "n": None},
        output_data={"nested": [{"deep": [1, 2.5e-7, True, -0.0, 1e300]}]},
        reason_for_incompletion="retried",
        lease_expires_at=123,
    )
    bare = make_task(run, "t2", seq=2, response_timeout_seconds=0)
    await start(store, run, [rich, bare])

    claimed = await store.claim_tasks("work", worker_id=None, count=5, now=50_000)

    assert claimed == [plans.claimed(t, worker_id=None, now=50_000) for t in (rich, bare)]
    assert [await store.get_task(t.task_id) for t in claimed] == claimed
    assert await store.due_timers(now=10**15, limit=10) == [DueTimer(workflow_id="wf-1", task_id="t1")]


async def test_claim_without_response_timeout_has_no_lease(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1", response_timeout_seconds=0)])

    [claimed] = await store.claim_tasks("work", worker_id=None, count=1, now=10_000)

    assert claimed.lease_expires_at == 0 and claimed.worker_id is None
    assert await store.due_timers(now=10**15, limit=10) == []


async def test_claim_count_limit(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, f"t{i}", seq=i) for i in range(1, 6)])

    assert [t.task_id for t in await store.claim_tasks("work", worker_id="w", count=2, now=1)] == ["t1", "t2"]
    assert [t.task_id for t in await store.claim_tasks("work", worker_id="w", count=2, now=1)] == ["t3", "t4"]
    assert await store.claim_tasks("work", worker_id="w", count=0, now=1) == []
    assert await store.queue_sizes() == {"work": 1}


async def test_cancelled_task_is_not_handed_out(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1", seq=1), make_task(run, "t2", seq=2)])

    def cancel_first(loaded: Workflow, definition: WorkflowDef) -> Decision:
        cancelled = msgspec.structs.replace(loaded.tasks[0], status=TaskStatus.CANCELED)
        return Decision(workflow=loaded, updated=[cancelled])

    await store.transact("wf-1", cancel_first)

    assert [t.task_id for t in await store.claim_tasks("work", worker_id="w", count=10, now=1)] == ["t2"]
    assert await store.queue_sizes() == {}


async def test_system_tasks_are_not_queued(store: Store) -> None:
    run = make_run()
    await start(
        store,
        run,
        [make_task(run, "wait", task_type=TaskType.WAIT.value), make_task(run, "inline", task_type="INLINE")],
    )
    assert await store.queue_sizes() == {}
    assert await store.claim_tasks(TaskType.WAIT.value, worker_id="w", count=10, now=10**15) == []


async def test_rescheduled_task_is_queued_again(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1")])
    [claimed] = await store.claim_tasks("work", worker_id="w", count=1, now=1_000)

    def put_back(loaded: Workflow, definition: WorkflowDef) -> Decision:
        again = msgspec.structs.replace(
            loaded.tasks[0], status=TaskStatus.SCHEDULED, visible_at=5_000, lease_expires_at=0
        )
        return Decision(workflow=loaded, updated=[again])

    await store.transact("wf-1", put_back)

    assert await store.claim_tasks("work", worker_id="w", count=1, now=4_999) == []
    [again] = await store.claim_tasks("work", worker_id="w", count=1, now=5_000)
    assert again.task_id == "t1" and again.poll_count == claimed.poll_count + 1


async def test_queue_sizes(store: Store) -> None:
    run = make_run()
    await start(
        store,
        run,
        [
            make_task(run, "a1", seq=1, task_type="a"),
            make_task(run, "a2", seq=2, task_type="a", visible_at=10**12),
            make_task(run, "b1", seq=3, task_type="b"),
        ],
    )
    assert await store.queue_sizes() == {"a": 2, "b": 1}
    assert await store.queue_sizes(["a", "c"]) == {"a": 2, "c": 0}
    assert await store.queue_sizes([]) == {}


# -- timers ------------------------------------------------------------------------


async def test_lease_timer_follows_the_claim(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1", response_timeout_seconds=10)])
    assert await store.due_timers(now=10**15, limit=10) == []

    await store.claim_tasks("work", worker_id="w", count=1, now=1_000)

    assert await store.due_timers(now=10_999, limit=10) == []
    assert await store.due_timers(now=11_000, limit=10) == [DueTimer(workflow_id="wf-1", task_id="t1")]

    def complete(loaded: Workflow, definition: WorkflowDef) -> Decision:
        done = msgspec.structs.replace(loaded.tasks[0], status=TaskStatus.COMPLETED)
        return Decision(workflow=loaded, updated=[done])

    await store.transact("wf-1", complete)
    assert await store.due_timers(now=10**15, limit=10) == []


async def test_system_task_timers_earliest_first(store: Store) -> None:
    a, b = make_run("a"), make_run("b")
    wait = TaskType.WAIT.value
    await start(store, a, [make_task(a, "a-wait", task_type=wait, visible_at=3_000)])
    await start(
        store,
        b,
        [
            make_task(b, "b-wait", seq=1, task_type=wait, visible_at=2_000),
            make_task(b, "b-none", seq=2, task_type=wait),
            make_task(b, "b-done", seq=3, task_type=wait, visible_at=1_000, status=TaskStatus.COMPLETED),
            # A queued worker task's visible_at is not a timer.
            make_task(b, "b-work", seq=4, visible_at=1_000),
        ],
    )

    assert await store.due_timers(now=1_999, limit=10) == []
    assert await store.due_timers(now=5_000, limit=10) == [
        DueTimer(workflow_id="b", task_id="b-wait"),
        DueTimer(workflow_id="a", task_id="a-wait"),
    ]
    assert await store.due_timers(now=5_000, limit=1) == [DueTimer(workflow_id="b", task_id="b-wait")]
