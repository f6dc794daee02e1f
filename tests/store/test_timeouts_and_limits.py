"""The store's side of timeouts and limits, on both stores: timer rows derived from tasks and runs, claims
that keep the first start and carry timeouts into the lease's timer, and limited claims."""

from __future__ import annotations

import asyncio

import msgspec

from baton.engine.decision import Decision
from baton.model import Task, TaskDef, TaskStatus, Workflow, WorkflowDef, WorkflowTimeoutPolicy
from baton.store import ClaimLimits, ClaimRequest, DueTimer, Store
from tests.store.store_builders import make_def, make_run, make_task, start


def timed_def(seconds: int) -> WorkflowDef:
    definition = make_def()
    definition.timeout_seconds = seconds
    definition.timeout_policy = WorkflowTimeoutPolicy.TIME_OUT_WF
    return definition


async def test_a_run_timer_is_derived_from_its_definition_and_ends_with_the_run(store: Store) -> None:
    run = make_run(create_time=1_000)
    await start(store, run, definition=timed_def(30))
    await start(store, make_run("untimed"))
    assert await store.due_timers(now=30_999, limit=10) == []
    assert await store.due_timers(now=31_000, limit=10) == [DueTimer(workflow_id="wf-1")]

    def finish(loaded: Workflow, definition: WorkflowDef) -> Decision:
        assert definition.timeout_seconds == 30
        return Decision(workflow=msgspec.structs.replace(loaded, status=loaded.status.TIMED_OUT))

    await store.transact("wf-1", finish)
    assert await store.due_timers(now=10**15, limit=10) == []


async def test_run_and_task_timers_come_earliest_first(store: Store) -> None:
    run = make_run(create_time=1_000)
    wait = make_task(run, "t1", task_type="WAIT", visible_at=20_000)
    await start(store, run, [wait], definition=timed_def(10))
    assert await store.due_timers(now=10**15, limit=10) == [
        DueTimer(workflow_id="wf-1"),
        DueTimer(workflow_id="wf-1", task_id="t1"),
    ]
    assert await store.due_timers(now=10**15, limit=1) == [DueTimer(workflow_id="wf-1")]


def with_settings(task_def: TaskDef, task: Task) -> Task:
    step = make_def().tasks[0]
    return msgspec.structs.replace(task, workflow_task=msgspec.structs.replace(step, task_definition=task_def))


async def test_claims_keep_the_first_start_and_a_timeout_earlier_than_the_lease(store: Store) -> None:
    run = make_run()
    settings = TaskDef(name="work", timeout_seconds=100, response_timeout_seconds=60, poll_timeout_seconds=5)
    task = with_settings(settings, make_task(run, "t1", visible_at=1_000))
    await start(store, run, [task])
    # Queued and never polled: the poll timeout is its timer.
    assert await store.due_timers(now=6_000, limit=10) == [DueTimer(workflow_id="wf-1", task_id="t1")]
    (first,) = await store.claim_tasks("work", worker_id="w", count=1, now=2_000)
    assert (first.start_time, first.lease_expires_at) == (2_000, 62_000)

    def call_back_later(loaded: Workflow, definition: WorkflowDef) -> Decision:
        requeued = msgspec.structs.replace(loaded.tasks[0], status=TaskStatus.SCHEDULED, lease_expires_at=0)
        return Decision(workflow=loaded, updated=[requeued])

    await store.transact("wf-1", call_back_later)
    (again,) = await store.claim_tasks("work", worker_id="w", count=1, now=70_000)
    assert (again.start_time, again.poll_count) == (2_000, 2)
    # The lease would run to 130 s; the task's timeoutSeconds (first start + 100 s) comes first.
    assert await store.due_timers(now=101_999, limit=10) == []
    assert await store.due_timers(now=102_000, limit=10) == [DueTimer(workflow_id="wf-1", task_id="t1")]
    stored = await store.get_task("t1")
    assert stored is not None and stored.start_time == 2_000


async def start_many(store: Store, count: int) -> None:
    for index in range(count):
        run = make_run(f"wf-{index}", create_time=index)
        await start(store, run, [make_task(run, f"t{index}")])


async def test_a_concurrency_limit_counts_in_progress_claims(store: Store) -> None:
    await start_many(store, 5)
    limits = ClaimLimits(concurrent=2)
    first = await store.claim_tasks("work", worker_id="w", count=5, now=1, limits=limits)
    assert [t.task_id for t in first] == ["t0", "t1"]
    assert await store.claim_tasks("work", worker_id="w", count=5, now=2, limits=limits) == []

    def complete(loaded: Workflow, definition: WorkflowDef) -> Decision:
        done = msgspec.structs.replace(loaded.tasks[0], status=TaskStatus.COMPLETED)
        return Decision(workflow=loaded, updated=[done])

    def claim_next(decision: Decision) -> ClaimRequest:
        return ClaimRequest("work", "w", 5, 3, limits)

    _, claimed = await store.transact_then_claim("wf-0", complete, claim_next)
    assert [t.task_id for t in claimed] == ["t2"]
    assert await store.claim_tasks("work", worker_id="w", count=5, now=4, limits=limits) == []
    assert await store.queue_sizes(["work"]) == {"work": 2}


async def test_a_rate_limit_counts_claims_in_the_window(store: Store) -> None:
    await start_many(store, 5)
    limits = ClaimLimits(per_window=2, window_ms=10_000)
    assert len(await store.claim_tasks("work", worker_id="w", count=5, now=1_000, limits=limits)) == 2
    assert await store.claim_tasks("work", worker_id="w", count=5, now=10_999, limits=limits) == []
    later = await store.claim_tasks("work", worker_id="w", count=5, now=11_000, limits=limits)
    assert [t.task_id for t in later] == ["t2", "t3"]
    # Without limits the type is claimed as before.
    assert [t.task_id for t in await store.claim_tasks("work", worker_id="w", count=5, now=11_001)] == ["t4"]


async def test_concurrent_limited_claims_never_exceed_the_limit(store: Store) -> None:
    await start_many(store, 30)
    limits = ClaimLimits(concurrent=4)
    results = await asyncio.gather(
        *(store.claim_tasks("work", worker_id=f"w{i}", count=3, now=1, limits=limits) for i in range(12))
    )
    assert sum(len(tasks) for tasks in results) == 4


def test_limits_of_a_task_def() -> None:
    assert ClaimLimits.of(None) is None
    assert ClaimLimits.of(TaskDef(name="t")) is None
    assert ClaimLimits.of(TaskDef(name="t", concurrent_exec_limit=0, rate_limit_per_frequency=0)) is None
    assert ClaimLimits.of(TaskDef(name="t", rate_limit_per_frequency=3)) == ClaimLimits(per_window=3, window_ms=1000)
    assert ClaimLimits.of(
        TaskDef(name="t", concurrent_exec_limit=2, rate_limit_per_frequency=5, rate_limit_frequency_in_seconds=60)
    ) == ClaimLimits(concurrent=2, per_window=5, window_ms=60_000)
    assert ClaimLimits(concurrent=2, per_window=5).allowed(10, in_progress=1, in_window=4) == 1
    assert ClaimLimits(concurrent=2).allowed(10, in_progress=3, in_window=0) == 0
