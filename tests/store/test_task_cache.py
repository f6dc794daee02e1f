"""Decoded tasks cached between decisions never hide a write: another store on the same database sees it.

Two stores on one database stand for two server processes. Each caches the
runs it decides on; a claim, a decision or a removal made through the other
must show in the next decision written, on both stores. (On PostgreSQL a
decision may first be made on the stale copy: its write is refused and it is
made again on the run as it is, so the steps here record what each call saw
and the last call, the one written, is checked.)
"""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from baton.engine.decision import Decision, Refusal
from baton.model import Task, TaskStatus, Workflow, WorkflowDef
from baton.store import open_store
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(60)


def complete(task_id: str) -> object:
    """A step that completes one task, keeping the worker the task was claimed by."""

    def step(run: Workflow, definition: WorkflowDef) -> Decision:
        task = next(t for t in run.tasks if t.task_id == task_id)
        done = msgspec.structs.replace(task, status=TaskStatus.COMPLETED, output_data={"seen_by": task.worker_id})
        return Decision(workflow=run, updated=[done])

    return step


def seen(run: Workflow) -> dict[str, Task]:
    return {t.task_id: t for t in run.tasks}


async def test_a_decision_sees_claims_and_decisions_made_through_another_store(store_url: str) -> None:
    first, second = open_store(store_url), open_store(store_url)
    await first.open()
    await second.open()
    try:
        run = make_run()
        await start(first, run, [make_task(run, f"t{i}", seq=i + 1) for i in range(3)])
        [claimed] = await first.claim_tasks("work", worker_id="first", count=1, now=5_000)
        await first.transact(run.workflow_id, complete(claimed.task_id))  # the first store caches the run

        [other] = await second.claim_tasks("work", worker_id="second", count=1, now=5_000)
        decision = await first.transact(run.workflow_id, complete(other.task_id))
        [done] = decision.updated
        assert done.output_data == {"seen_by": "second"}, "the first store missed the other store's claim"

        [last] = await first.claim_tasks("work", worker_id="first", count=1, now=5_000)
        await second.transact(run.workflow_id, complete(last.task_id))

        views: list[list[tuple[str, TaskStatus]]] = []

        def read(run: Workflow, definition: WorkflowDef) -> Decision:
            views.append([(t.task_id, t.status) for t in run.tasks])
            return Decision(workflow=run)

        await first.transact(run.workflow_id, read)
        assert views[-1] == [(f"t{i}", TaskStatus.COMPLETED) for i in range(3)], "missed the other store's decision"

        def remove(run: Workflow, definition: WorkflowDef) -> Decision:
            return Decision(workflow=run, removed=[run.tasks[0].task_id])

        await second.transact(run.workflow_id, remove)

        await first.transact(run.workflow_id, read)
        assert [task_id for task_id, _ in views[-1]] == ["t1", "t2"], "missed the other store's removal"
        stored = await first.get_run(run.workflow_id)
        assert stored is not None and sorted(seen(stored)) == ["t1", "t2"]
    finally:
        await first.close()
        await second.close()


def complete_if_present(task_id: str) -> object:
    """A step that completes a task, or refuses as the decider does when the run has no such task."""

    def step(run: Workflow, definition: WorkflowDef) -> Decision:
        task = next((t for t in run.tasks if t.task_id == task_id), None)
        if task is None:
            return Decision(workflow=run, refusal=Refusal(kind="not_found", message=f"No such task: {task_id}"))
        return Decision(workflow=run, updated=[msgspec.structs.replace(task, status=TaskStatus.COMPLETED)])

    return step


async def test_a_refusal_holds_for_the_run_as_stored_not_as_cached(store_url: str) -> None:
    """A task another store added is found: the copy that lacks it does not turn the result away."""
    first, second = open_store(store_url), open_store(store_url)
    await first.open()
    await second.open()
    try:
        run = make_run()
        await start(first, run, [make_task(run, "t0", seq=1)])
        await first.transact(run.workflow_id, complete("t0"))  # the first store holds the run as it wrote it

        def add(run: Workflow, definition: WorkflowDef) -> Decision:
            return Decision(workflow=run, created=[make_task(run, "t1", seq=2)])

        await second.transact(run.workflow_id, add)
        decision = await first.transact(run.workflow_id, complete_if_present("t1"))
        assert decision.refusal is None
        assert [t.task_id for t in decision.updated] == ["t1"]
        stored = await second.get_run(run.workflow_id)
        assert stored is not None and {t.task_id: t.status for t in stored.tasks} == {
            "t0": TaskStatus.COMPLETED,
            "t1": TaskStatus.COMPLETED,
        }
        missing = await first.transact(run.workflow_id, complete_if_present("t9"))
        assert missing.refusal is not None and missing.refusal.kind == "not_found"
    finally:
        await first.close()
        await second.close()


async def test_concurrent_decisions_on_one_run_in_one_process_all_land(store_url: str) -> None:
    """Decisions made at once from the same copy: one writes, the others are made again; none is lost."""
    store = open_store(store_url)
    await store.open()
    try:
        run = make_run()
        await start(store, run, [make_task(run, f"t{i}", seq=i + 1) for i in range(8)])
        await store.transact(run.workflow_id, complete("t0"))
        await asyncio.gather(*(store.transact(run.workflow_id, complete(f"t{i}")) for i in range(1, 8)))
        stored = await store.get_run(run.workflow_id)
        assert stored is not None
        assert {t.task_id: t.status for t in stored.tasks} == {f"t{i}": TaskStatus.COMPLETED for i in range(8)}

        views: list[list[TaskStatus]] = []

        def read(run: Workflow, definition: WorkflowDef) -> Decision:
            views.append([t.status for t in run.tasks])
            return Decision(workflow=run)

        await store.transact(run.workflow_id, read)
        assert views == [[TaskStatus.COMPLETED] * 8], "the copy kept a decision that lost the race"
    finally:
        await store.close()
