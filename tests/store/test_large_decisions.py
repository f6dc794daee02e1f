"""A decision on thousands of tasks leaves the event loop free, and nobody sees half of it, on both stores.

SQLite writes such a decision a slice a turn while it holds the commit group
(``CommitGroup.held``); PostgreSQL encodes it a slice a turn and writes it in one
statement. A reader on the same loop runs between the slices: every read must
show the run wholly before or wholly after the decision.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import msgspec
import pytest

from baton.engine.decision import Decision
from baton.model import TaskStatus, Workflow, WorkflowDef, WorkflowStatus
from baton.store import Store, open_store
from baton.store.common.plans import LARGE_DECISION_TASKS, TURN_TASKS
from baton.store.postgres.slices import SLICE_ROWS
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(120)

TASKS = 3 * LARGE_DECISION_TASKS


def cancel_all(run: Workflow, definition: WorkflowDef) -> Decision:
    cancelled = [msgspec.structs.replace(task, status=TaskStatus.CANCELED) for task in run.tasks]
    ended = msgspec.structs.replace(run, status=WorkflowStatus.TERMINATED, end_time=2_000)
    return Decision(workflow=ended, updated=cancelled)


async def test_a_large_decision_is_read_whole_or_not_at_all(store: Store) -> None:
    run = make_run("wf-large")
    await start(store, run, [make_task(run, f"t{seq:05}", seq=seq) for seq in range(1, TASKS + 1)])
    seen: list[tuple[str, dict[str, int]]] = []
    writing = True
    ticks = 0

    async def tick() -> None:
        """Counts the loop's turns while the decision is made: it is not held for the whole of it."""
        nonlocal ticks
        while writing:
            ticks += 1
            await asyncio.sleep(0)

    async def read_while_writing() -> None:
        while writing:
            found = await store.get_run("wf-large")
            assert found is not None
            seen.append((found.status.value, dict(Counter(task.status.value for task in found.tasks))))
            await asyncio.sleep(0)

    ticker, reader = asyncio.create_task(tick()), asyncio.create_task(read_while_writing())
    await asyncio.sleep(0)
    await store.transact("wf-large", cancel_all)
    writing = False
    await asyncio.gather(ticker, reader)

    before = ("RUNNING", {"SCHEDULED": TASKS})
    after = ("TERMINATED", {"CANCELED": TASKS})
    assert ticks >= TASKS // TURN_TASKS, f"the loop turned {ticks} times while the decision was made"
    assert seen[0] == before
    assert all(state in (before, after) for state in seen), [state for state in seen if state not in (before, after)]
    final = await store.get_run("wf-large")
    assert final is not None and {task.status for task in final.tasks} == {TaskStatus.CANCELED}


def cancel_scheduled(run: Workflow, definition: WorkflowDef) -> Decision:
    """Cancels what waits in the queue and leaves claimed tasks as they are: a lost claim would show."""
    cancelled = [
        msgspec.structs.replace(task, status=TaskStatus.CANCELED)
        for task in run.tasks
        if task.status is TaskStatus.SCHEDULED
    ]
    return Decision(workflow=msgspec.structs.replace(run, update_time=2_000), updated=cancelled)


async def test_a_claim_of_a_task_in_a_later_slice_sends_the_decision_back_to_be_made_again(
    pg_store: Store, postgres_url: str
) -> None:
    """PostgreSQL writes a large plan's later slices as statements of their own, each still guarded."""
    run = make_run("wf-sliced")
    early = [make_task(run, f"a{seq:05}", seq=seq, task_type="early") for seq in range(1, SLICE_ROWS + 101)]
    late = [make_task(run, f"b{seq:05}", seq=seq, task_type="late") for seq in range(SLICE_ROWS + 101, TASKS + 1)]
    await start(pg_store, run, [*early, *late])
    other_process = open_store(postgres_url)
    await other_process.open()
    try:
        claimed = await other_process.claim_tasks("late", worker_id="w", count=1, now=1_500)
    finally:
        await other_process.close()
    assert [task.task_id for task in claimed] == [late[0].task_id]  # in the second slice of the plan

    await pg_store.transact("wf-sliced", cancel_scheduled)

    final = await pg_store.get_run("wf-sliced")
    assert final is not None
    statuses = {task.task_id: task.status for task in final.tasks}
    assert statuses.pop(late[0].task_id) is TaskStatus.IN_PROGRESS
    assert set(statuses.values()) == {TaskStatus.CANCELED}
