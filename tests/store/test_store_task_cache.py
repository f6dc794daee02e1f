"""Decoded tasks cached between decisions never hide a write: another store on the same database sees it.

Two stores on one database stand for two server processes. Each caches the
runs it decides on; a claim, a decision or a removal made through the other
must show in the next decision, on both stores.
"""

from __future__ import annotations

import msgspec
import pytest
from store_builders import make_run, make_task, start

from baton.engine.decision import Decision
from baton.model import Task, TaskStatus, Workflow, WorkflowDef
from baton.store import open_store

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

        def read(run: Workflow, definition: WorkflowDef) -> Decision:
            statuses = {t.task_id: t.status for t in run.tasks}
            assert statuses == dict.fromkeys(statuses, TaskStatus.COMPLETED), statuses
            return Decision(workflow=run)

        await first.transact(run.workflow_id, read)

        def remove(run: Workflow, definition: WorkflowDef) -> Decision:
            return Decision(workflow=run, removed=[run.tasks[0].task_id])

        await second.transact(run.workflow_id, remove)

        def count(run: Workflow, definition: WorkflowDef) -> Decision:
            assert [t.task_id for t in run.tasks] == ["t1", "t2"]
            return Decision(workflow=run)

        await first.transact(run.workflow_id, count)
        stored = await first.get_run(run.workflow_id)
        assert stored is not None and sorted(seen(stored)) == ["t1", "t2"]
    finally:
        await first.close()
        await second.close()
