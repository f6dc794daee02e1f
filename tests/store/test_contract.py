"""The store contract (``baton/store/roles.py``), run against every backend."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from baton.engine.decision import Decision, Refusal
from baton.errors import ConflictError, NotFoundError, StoreError
from baton.model import (
    IdempotencyStrategy,
    TaskDef,
    TaskExecLog,
    TaskStatus,
    TaskType,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
)
from baton.store import ClaimRequest, DueTimer, StartResult, Store
from baton.store.common import plans
from tests.store.store_builders import make_def, make_run, make_task, start

pytestmark = pytest.mark.timeout(60)

# -- definitions -------------------------------------------------------------------


async def test_workflow_defs_by_version_and_latest(store: Store) -> None:
    await store.put_workflow_defs([make_def("a", 1), make_def("a", 3), make_def("b", 2)], overwrite=False)

    assert (await store.get_workflow_def("a")) == make_def("a", 3)
    assert (await store.get_workflow_def("a", 1)) == make_def("a", 1)
    assert await store.get_workflow_def("a", 2) is None
    assert await store.get_workflow_def("nope") is None
    assert [(d.name, d.version) for d in await store.list_workflow_defs()] == [("a", 1), ("a", 3), ("b", 2)]
    assert [(d.name, d.version) for d in await store.list_workflow_defs("a")] == [("a", 1), ("a", 3)]

    assert await store.delete_workflow_def("a", 3) is True
    assert await store.delete_workflow_def("a", 3) is False
    assert (await store.get_workflow_def("a")) == make_def("a", 1)


async def test_workflow_def_conflict_stores_none(store: Store) -> None:
    await store.put_workflow_defs([make_def("a", 1, description="first")], overwrite=False)

    with pytest.raises(ConflictError, match="a version 1"):
        await store.put_workflow_defs([make_def("new", 1), make_def("a", 1, description="second")], overwrite=False)

    assert await store.get_workflow_def("new") is None
    found = await store.get_workflow_def("a", 1)
    assert found is not None and found.description == "first"


async def test_workflow_def_overwrite_replaces(store: Store) -> None:
    await store.put_workflow_defs([make_def("a", 1, description="first")], overwrite=False)
    await store.put_workflow_defs([make_def("a", 1, description="second"), make_def("b")], overwrite=True)

    found = await store.get_workflow_def("a", 1)
    assert found is not None and found.description == "second"
    assert await store.get_workflow_def("b") == make_def("b")


async def test_task_defs_crud(store: Store) -> None:
    await store.put_task_defs([TaskDef(name="t1", retry_count=5), TaskDef(name="t2")])

    assert await store.get_task_defs(["t1", "missing"]) == {"t1": TaskDef(name="t1", retry_count=5)}
    assert await store.get_task_defs([]) == {}
    assert [d.name for d in await store.list_task_defs()] == ["t1", "t2"]

    await store.put_task_defs([TaskDef(name="t1", retry_count=1)])
    assert (await store.get_task_defs(["t1"]))["t1"].retry_count == 1

    with pytest.raises(ConflictError, match="t2"):
        await store.put_task_defs([TaskDef(name="t3"), TaskDef(name="t2", retry_count=9)], overwrite=False)
    assert set(await store.get_task_defs(["t2", "t3"])) == {"t2"}
    assert (await store.get_task_defs(["t2"]))["t2"].retry_count == 3

    assert await store.delete_task_def("t1") is True
    assert await store.delete_task_def("t1") is False
    assert [d.name for d in await store.list_task_defs()] == ["t2"]


# -- runs --------------------------------------------------------------------------


async def test_create_run_round_trip(store: Store) -> None:
    run = make_run()
    tasks = [make_task(run, "t2", seq=2), make_task(run, "t1", seq=1, task_type=TaskType.INLINE.value)]
    result = await start(store, run, tasks)
    assert result == StartResult(workflow_id="wf-1", created=True)

    loaded = await store.get_run("wf-1")
    assert loaded == msgspec.structs.replace(run, tasks=[tasks[1], tasks[0]])
    header = await store.get_run("wf-1", include_tasks=False)
    assert header == run and header.tasks == []
    assert await store.get_run("missing") is None

    assert await store.get_task("t2") == tasks[0]
    assert await store.get_task("missing") is None
    assert await store.workflow_id_of_task("t1") == "wf-1"
    assert await store.workflow_id_of_task("missing") is None


async def test_create_run_with_a_taken_id_conflicts(store: Store) -> None:
    await start(store, make_run())
    with pytest.raises(ConflictError):
        await start(store, make_run())


async def test_run_keeps_the_definition_it_started_with(store: Store) -> None:
    original = make_def(description="v1 as first registered")
    await store.put_workflow_defs([original], overwrite=False)
    await start(store, make_run("wf-1"), definition=original)

    changed = make_def(description="v1 overwritten")
    await store.put_workflow_defs([changed], overwrite=True)
    await start(store, make_run("wf-2"), definition=changed)

    assert await store.get_run_definition("wf-1") == original
    assert await store.get_run_definition("wf-2") == changed
    assert await store.get_run_definition("missing") is None

    seen: list[WorkflowDef] = []

    def step(run: Workflow, definition: WorkflowDef) -> Decision:
        seen.append(definition)
        return Decision(workflow=run)

    await store.transact("wf-1", step)
    await store.transact("wf-2", step)
    assert seen == [original, changed]


async def test_transact_writes_header_created_and_updated(store: Store) -> None:
    run = make_run()
    first = make_task(run, "t1", seq=1)
    await start(store, run, [first])

    seen: list[Workflow] = []

    def step(loaded: Workflow, definition: WorkflowDef) -> Decision:
        seen.append(msgspec.structs.replace(loaded))
        done = msgspec.structs.replace(loaded.tasks[0], status=TaskStatus.COMPLETED, output_data={"y": 2})
        nxt = make_task(loaded, "t2", seq=2, task_type="other")
        header = msgspec.structs.replace(loaded, update_time=2_000, variables={"v": 1}, tasks=[])
        return Decision(workflow=header, created=[nxt], updated=[done])

    decision = await store.transact("wf-1", step)

    assert seen[0].tasks == [first]
    stored = await store.get_run("wf-1")
    assert stored is not None
    assert stored.update_time == 2_000 and stored.variables == {"v": 1}
    assert [(t.task_id, t.status) for t in stored.tasks] == [
        ("t1", TaskStatus.COMPLETED),
        ("t2", TaskStatus.SCHEDULED),
    ]
    assert stored.tasks[0].output_data == {"y": 2}
    assert decision.created[0].task_id == "t2"
    assert await store.queue_sizes() == {"other": 1}


async def test_transact_refusal_writes_nothing(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1")])
    before = await store.get_run("wf-1")

    def step(loaded: Workflow, definition: WorkflowDef) -> Decision:
        header = msgspec.structs.replace(loaded, status=WorkflowStatus.FAILED)
        cancelled = msgspec.structs.replace(loaded.tasks[0], status=TaskStatus.CANCELED)
        return Decision(
            workflow=header,
            created=[make_task(loaded, "t2", seq=2)],
            updated=[cancelled],
            refusal=Refusal(kind="conflict", message="no"),
        )

    decision = await store.transact("wf-1", step)

    assert decision.refusal == Refusal(kind="conflict", message="no")
    assert await store.get_run("wf-1") == before
    assert await store.queue_sizes() == {"work": 1}


async def test_transact_step_exception_writes_nothing(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1")])
    before = await store.get_run("wf-1")

    def step(loaded: Workflow, definition: WorkflowDef) -> Decision:
        loaded.tasks[0].status = TaskStatus.CANCELED  # a misbehaving step mutates what it was given
        raise RuntimeError("step blew up")

    with pytest.raises(RuntimeError, match="step blew up"):
        await store.transact("wf-1", step)

    assert await store.get_run("wf-1") == before
    # The store is still usable afterwards.
    await store.transact("wf-1", lambda loaded, _: Decision(workflow=loaded))


async def test_transact_driver_error_is_a_store_error_and_writes_nothing(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1")])
    before = await store.get_run("wf-1")

    def step(loaded: Workflow, definition: WorkflowDef) -> Decision:
        header = msgspec.structs.replace(loaded, status=WorkflowStatus.COMPLETED)
        return Decision(workflow=header, created=[make_task(loaded, "t1", seq=2)])  # a task id already taken

    with pytest.raises(StoreError):
        await store.transact("wf-1", step)

    assert await store.get_run("wf-1") == before
    await store.transact("wf-1", lambda loaded, _: Decision(workflow=loaded))


async def test_transact_unknown_run(store: Store) -> None:
    with pytest.raises(NotFoundError):
        await store.transact("missing", lambda loaded, _: Decision(workflow=loaded))


async def test_transact_serialises_decisions_on_one_run(store: Store) -> None:
    run = make_run()
    await start(store, run)

    def append(loaded: Workflow, definition: WorkflowDef) -> Decision:
        seq = len(loaded.tasks) + 1
        task = make_task(loaded, f"t{seq}", seq=seq, task_type=TaskType.NOOP.value)
        return Decision(workflow=loaded, created=[task])

    await asyncio.gather(*(store.transact("wf-1", append) for _ in range(20)))

    stored = await store.get_run("wf-1")
    assert stored is not None
    assert [t.seq for t in stored.tasks] == list(range(1, 21))


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


# -- idempotency ---------------------------------------------------------------------


@pytest.mark.parametrize("strategy", [None, IdempotencyStrategy.RETURN_EXISTING])
async def test_idempotency_return_existing(store: Store, strategy: IdempotencyStrategy | None) -> None:
    assert await start(store, make_run("wf-1", idempotency_key="k")) == StartResult(workflow_id="wf-1", created=True)
    result = await start(store, make_run("wf-2", idempotency_key="k"), strategy=strategy)
    assert result == StartResult(workflow_id="wf-1", created=False)
    assert await store.get_run("wf-2") is None


async def test_idempotency_fail(store: Store) -> None:
    await start(store, make_run("wf-1", idempotency_key="k", status=WorkflowStatus.COMPLETED))
    with pytest.raises(ConflictError, match="wf-1"):
        await start(store, make_run("wf-2", idempotency_key="k"), strategy=IdempotencyStrategy.FAIL)
    assert await store.get_run("wf-2") is None


async def test_idempotency_fail_on_running(store: Store) -> None:
    await start(store, make_run("wf-1", idempotency_key="k"))
    with pytest.raises(ConflictError):
        await start(store, make_run("wf-2", idempotency_key="k"), strategy=IdempotencyStrategy.FAIL_ON_RUNNING)
    assert await store.get_run("wf-2") is None

    def finish(loaded: Workflow, definition: WorkflowDef) -> Decision:
        return Decision(workflow=msgspec.structs.replace(loaded, status=WorkflowStatus.COMPLETED))

    await store.transact("wf-1", finish)
    result = await start(store, make_run("wf-3", idempotency_key="k"), strategy=IdempotencyStrategy.FAIL_ON_RUNNING)
    assert result == StartResult(workflow_id="wf-3", created=True)
    # The key moved to the new run.
    assert await start(store, make_run("wf-4", idempotency_key="k")) == StartResult(workflow_id="wf-3", created=False)
    # Deleting the old run leaves the key with the new one.
    assert await store.delete_run("wf-1")
    assert (await start(store, make_run("wf-5", idempotency_key="k"))).workflow_id == "wf-3"


@pytest.mark.parametrize("strategy", [None, IdempotencyStrategy.FAIL, IdempotencyStrategy.FAIL_ON_RUNNING])
async def test_concurrent_starts_with_one_key_make_one_run(store: Store, strategy: IdempotencyStrategy | None) -> None:
    async def attempt(i: int) -> StartResult | None:
        run = make_run(f"wf-{i}", idempotency_key="same")
        try:
            return await start(store, run, [make_task(run, f"t-{i}")], strategy=strategy)
        except ConflictError:
            return None

    results = await asyncio.gather(*(attempt(i) for i in range(50)))

    created = [r for r in results if r is not None and r.created]
    assert len(created) == 1
    winner = created[0].workflow_id
    for r in results:
        if strategy is None:
            assert r is not None and r.workflow_id == winner
        else:
            assert r is None or r == created[0]
    assert await store.queue_sizes() == {"work": 1}


async def test_concurrent_takeovers_of_a_finished_key_make_one_run(store: Store) -> None:
    await start(store, make_run("old", idempotency_key="same", status=WorkflowStatus.COMPLETED))

    async def attempt(i: int) -> StartResult | None:
        try:
            return await start(
                store, make_run(f"wf-{i}", idempotency_key="same"), strategy=IdempotencyStrategy.FAIL_ON_RUNNING
            )
        except ConflictError:
            return None

    results = await asyncio.gather(*(attempt(i) for i in range(50)))
    created = [r for r in results if r is not None]
    assert len(created) == 1 and created[0].created


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


# -- finding and deleting runs ----------------------------------------------------------


async def test_find_runs_by_correlation(store: Store) -> None:
    old = make_run("old", correlation_id="c", create_time=1, status=WorkflowStatus.COMPLETED)
    mid = make_run("mid", correlation_id="c", create_time=2, status=WorkflowStatus.PAUSED)
    new = make_run("new", correlation_id="c", create_time=3)
    for run in (old, mid, new):
        await start(store, run, [make_task(run, f"{run.workflow_id}-t")])
    await start(store, make_run("other-corr", correlation_id="d"))
    await start(store, make_run("other-name", name="other", correlation_id="c"))

    found = await store.find_runs_by_correlation("flow", "c", include_closed=False, include_tasks=False)
    assert [r.workflow_id for r in found] == ["new", "mid"]
    assert all(r.tasks == [] for r in found)

    found = await store.find_runs_by_correlation("flow", "c", include_closed=True, include_tasks=True)
    assert [r.workflow_id for r in found] == ["new", "mid", "old"]
    assert [[t.task_id for t in r.tasks] for r in found] == [["new-t"], ["mid-t"], ["old-t"]]
    assert await store.find_runs_by_correlation("flow", "zzz", include_closed=True, include_tasks=True) == []


async def test_delete_run_removes_everything(store: Store) -> None:
    run = make_run(idempotency_key="k")
    await start(
        store,
        run,
        [
            make_task(run, "queued", seq=1),
            make_task(run, "leased", seq=2, task_type="leased"),
            make_task(run, "wait", seq=3, task_type=TaskType.WAIT.value, visible_at=5),
        ],
    )
    await store.claim_tasks("leased", worker_id="w", count=1, now=1)
    keep = make_run("keep")
    await start(store, keep, [make_task(keep, "keep-t")])

    assert await store.delete_run("wf-1") is True
    assert await store.delete_run("wf-1") is False

    assert await store.get_run("wf-1") is None
    assert await store.get_task("queued") is None
    assert await store.queue_sizes() == {"work": 1}
    assert await store.due_timers(now=10**15, limit=10) == []
    assert await start(store, make_run("wf-2", idempotency_key="k")) == StartResult(workflow_id="wf-2", created=True)
    assert await store.get_run("keep") is not None


async def test_decision_cannot_update_a_task_of_another_run(store: Store) -> None:
    a, b = make_run("a"), make_run("b")
    await start(store, a, [make_task(a, "a-t")])
    await start(store, b, [make_task(b, "b-t")])
    foreign = await store.get_task("b-t")
    assert foreign is not None

    def step(loaded: Workflow, definition: WorkflowDef) -> Decision:
        return Decision(workflow=loaded, updated=[msgspec.structs.replace(foreign, status=TaskStatus.CANCELED)])

    with pytest.raises(Exception, match="not a task of run a"):
        await store.transact("a", step)
    task = await store.get_task("b-t")
    assert task is not None and task.status is TaskStatus.SCHEDULED


# -- removing tasks and moving a run to another definition (restart, rerun) ------------------


async def test_transact_removes_tasks_with_their_queue_rows_timers_and_logs(store: Store) -> None:
    run = make_run()
    await start(
        store,
        run,
        [
            make_task(run, "queued", seq=1),
            make_task(run, "leased", seq=2, task_type="leased", response_timeout_seconds=10),
            make_task(run, "wait", seq=3, task_type=TaskType.WAIT.value, visible_at=5),
            make_task(run, "kept", seq=4, status=TaskStatus.COMPLETED),
        ],
    )
    await store.claim_tasks("leased", worker_id="w", count=1, now=1)
    assert await store.add_task_logs("queued", [TaskExecLog(log="line", task_id="queued", created_time=1)])
    assert len(await store.due_timers(now=10**15, limit=10)) == 2

    def step(loaded: Workflow, definition: WorkflowDef) -> Decision:
        again = make_task(loaded, "again", seq=5, task_type="again")
        return Decision(workflow=loaded, created=[again], removed=["queued", "leased", "wait"])

    await store.transact("wf-1", step)

    stored = await store.get_run("wf-1")
    assert stored is not None
    assert [t.task_id for t in stored.tasks] == ["kept", "again"]
    assert await store.get_task("queued") is None
    assert await store.get_task_logs("queued") is None
    assert await store.queue_sizes() == {"again": 1}
    assert await store.due_timers(now=10**15, limit=10) == []
    assert await store.claim_tasks("work", worker_id="w", count=5, now=10**15) == []


async def test_transact_may_remove_every_task_and_reuse_nothing(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1", seq=1), make_task(run, "t2", seq=2)])

    def step(loaded: Workflow, definition: WorkflowDef) -> Decision:
        fresh = make_task(loaded, "t3", seq=1)
        return Decision(workflow=loaded, created=[fresh], removed=[t.task_id for t in loaded.tasks])

    await store.transact("wf-1", step)

    stored = await store.get_run("wf-1")
    assert stored is not None and [(t.task_id, t.seq) for t in stored.tasks] == [("t3", 1)]
    assert [t.task_id for t in await store.claim_tasks("work", worker_id="w", count=5, now=10**15)] == ["t3"]


async def test_transact_refuses_to_remove_a_foreign_or_updated_task(store: Store) -> None:
    a, b = make_run("a"), make_run("b")
    await start(store, a, [make_task(a, "a-t")])
    await start(store, b, [make_task(b, "b-t")])

    def foreign(loaded: Workflow, definition: WorkflowDef) -> Decision:
        return Decision(workflow=loaded, removed=["b-t"])

    def both(loaded: Workflow, definition: WorkflowDef) -> Decision:
        changed = msgspec.structs.replace(loaded.tasks[0], status=TaskStatus.CANCELED)
        return Decision(workflow=loaded, updated=[changed], removed=["a-t"])

    with pytest.raises(StoreError, match="not a task of run a"):
        await store.transact("a", foreign)
    with pytest.raises(StoreError, match="updates and removes"):
        await store.transact("a", both)
    assert await store.get_task("b-t") is not None
    task = await store.get_task("a-t")
    assert task is not None and task.status is TaskStatus.SCHEDULED


async def test_transact_moves_the_run_to_a_new_definition(store: Store) -> None:
    first, latest = make_def(version=1), make_def(version=2, description="latest")
    await start(store, make_run(), definition=first)

    def move(loaded: Workflow, definition: WorkflowDef) -> Decision:
        return Decision(workflow=msgspec.structs.replace(loaded, workflow_version=2), definition=latest)

    await store.transact("wf-1", move)

    assert await store.get_run_definition("wf-1") == latest
    seen: list[WorkflowDef] = []

    def look(loaded: Workflow, definition: WorkflowDef) -> Decision:
        seen.append(definition)
        return Decision(workflow=loaded)

    await store.transact("wf-1", look)
    assert seen == [latest]
    stored = await store.get_run("wf-1", include_tasks=False)
    assert stored is not None and stored.workflow_version == 2


# -- task logs -------------------------------------------------------------------------------


async def test_task_logs_in_order_per_task(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1", seq=1), make_task(run, "t2", seq=2)])

    assert await store.get_task_logs("t1") == []
    assert await store.add_task_logs("t1", [TaskExecLog(log="one", task_id="t1", created_time=5)])
    assert await store.add_task_logs(
        "t1",
        [TaskExecLog(log="two ü \u0000", task_id="t1", created_time=7), TaskExecLog(log="three", created_time=6)],
    )
    assert await store.add_task_logs("t2", [])
    assert await store.get_task_logs("t1") == [
        TaskExecLog(log="one", task_id="t1", created_time=5),
        TaskExecLog(log="two ü \u0000", task_id="t1", created_time=7),
        TaskExecLog(log="three", task_id="t1", created_time=6),
    ]
    assert await store.get_task_logs("t2") == []


async def test_task_logs_of_an_unknown_task(store: Store) -> None:
    assert await store.add_task_logs("missing", [TaskExecLog(log="x", created_time=1)]) is False
    assert await store.add_task_logs("missing", []) is False
    assert await store.get_task_logs("missing") is None


async def test_task_logs_go_with_their_run(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1")])
    await store.add_task_logs("t1", [TaskExecLog(log="x", created_time=1)])

    await store.delete_run("wf-1")

    assert await store.get_task_logs("t1") is None
    await start(store, make_run(), [make_task(run, "t1")])
    assert await store.get_task_logs("t1") == []


async def test_a_decision_appends_log_lines_in_its_transaction(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1")])

    def step(loaded: Workflow, definition: WorkflowDef) -> Decision:
        nxt = make_task(loaded, "t2", seq=2)
        return Decision(
            workflow=loaded,
            created=[nxt],
            logs=[
                TaskExecLog(log="on t1", task_id="t1", created_time=3),
                TaskExecLog(log="on the new t2", task_id="t2", created_time=4),
                TaskExecLog(log="again t1", task_id="t1", created_time=2),
            ],
        )

    def refused(loaded: Workflow, definition: WorkflowDef) -> Decision:
        logs = [TaskExecLog(log="never", task_id="t1", created_time=9)]
        return Decision(workflow=loaded, logs=logs, refusal=Refusal(kind="conflict", message="no"))

    def foreign(loaded: Workflow, definition: WorkflowDef) -> Decision:
        return Decision(workflow=loaded, logs=[TaskExecLog(log="x", task_id="elsewhere", created_time=1)])

    await store.transact("wf-1", step)
    await store.transact("wf-1", refused)
    with pytest.raises(StoreError, match="elsewhere"):
        await store.transact("wf-1", foreign)

    assert [(log.log, log.created_time) for log in await store.get_task_logs("t1") or []] == [
        ("on t1", 3),
        ("again t1", 2),
    ]
    assert [log.log for log in await store.get_task_logs("t2") or []] == ["on the new t2"]
