"""The store contract for what the API reads of runs as stored: pages of a run's tasks, and its JSON unparsed."""

from __future__ import annotations

import msgspec
import pytest

from baton.model import Task, TaskStatus, Workflow
from baton.store import RunTaskPage, Store
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(60)


async def _run_of_four(store: Store) -> Workflow:
    """A run of four tasks, the first claimed (PostgreSQL stores a claimed body with the claimed fields twice)."""
    run = make_run()
    tasks = [make_task(run, f"t{seq}", seq=seq) for seq in range(1, 5)]
    await start(store, run, tasks)
    assert [task.task_id for task in await store.claim_tasks("work", worker_id="w", count=1, now=5_000)] == ["t1"]
    loaded = await store.get_run(run.workflow_id)
    assert loaded is not None
    return loaded


def _decoded(rows: list[tuple[int, str]]) -> list[tuple[int, Task]]:
    return [(seq, msgspec.json.decode(body, type=Task)) for seq, body in rows]


async def test_get_run_with_its_first_tasks(store: Store) -> None:
    run = await _run_of_four(store)

    first = await store.get_run(run.workflow_id, task_limit=2)
    assert first is not None
    assert first.tasks == run.tasks[:2]
    assert msgspec.structs.replace(first, tasks=[]) == msgspec.structs.replace(run, tasks=[])


async def test_get_run_json_is_the_run_as_stored(store: Store) -> None:
    run = await _run_of_four(store)

    found = await store.get_run_json(run.workflow_id, 3)
    assert found is not None
    header, tasks = found
    assert msgspec.json.decode(header, type=Workflow) == msgspec.structs.replace(run, tasks=[])
    assert _decoded(tasks) == [(task.seq, task) for task in run.tasks[:3]]
    assert _decoded(tasks)[0][1].status is TaskStatus.IN_PROGRESS
    assert await store.get_run_json("missing", 3) is None


async def test_run_task_json_after_pages_by_seq(store: Store) -> None:
    run = await _run_of_four(store)

    assert _decoded(await store.run_task_json_after(run.workflow_id, 0, 2)) == [(1, run.tasks[0]), (2, run.tasks[1])]
    assert _decoded(await store.run_task_json_after(run.workflow_id, 2, 5)) == [(3, run.tasks[2]), (4, run.tasks[3])]
    assert await store.run_task_json_after(run.workflow_id, 4, 5) == []
    assert await store.run_task_json_after("missing", 0, 5) == []


async def test_run_tasks_pages_filters_and_counts(store: Store) -> None:
    run = await _run_of_four(store)
    summary = {"IN_PROGRESS": 1, "SCHEDULED": 3}

    assert await store.run_tasks(run.workflow_id, start=1, count=2) == RunTaskPage(
        total_hits=4, results=run.tasks[1:3], summary=summary
    )
    assert await store.run_tasks(run.workflow_id, start=0, count=10, statuses=["SCHEDULED"]) == RunTaskPage(
        total_hits=3, results=run.tasks[1:], summary=summary
    )
    assert await store.run_tasks(run.workflow_id, start=0, count=10, statuses=["COMPLETED"]) == RunTaskPage(
        total_hits=0, results=[], summary=summary
    )
    assert await store.run_tasks("missing", start=0, count=10) is None
