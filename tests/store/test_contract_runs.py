"""The store contract (``baton/store/roles.py``) for runs, run against every backend.

Creating a run, the decisions ``transact`` writes on it (removing tasks and moving
the run to a new definition among them), finding and deleting runs.
"""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from baton.engine.decision import Decision, Refusal
from baton.errors import ConflictError, NotFoundError, StoreError
from baton.model import TaskExecLog, TaskStatus, TaskType, Workflow, WorkflowDef, WorkflowStatus
from baton.store import StartResult, Store
from tests.store.store_builders import make_def, make_run, make_task, start

pytestmark = pytest.mark.timeout(60)

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
