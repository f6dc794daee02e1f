"""The store contract (``baton/store/roles.py``) for the per-minute counts of the operations charts, run against
every backend."""

from __future__ import annotations

import msgspec
import pytest

from baton.model import TaskStatus, WorkflowStatus
from baton.model.metrics import LATENCY_BOUNDS_MS, LatencyCount, RunCount
from baton.store import Store
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(60)

MINUTE = 60_000
T0 = 1_000 * MINUTE
"""The first minute of the range read (minute number 1000)."""


async def _run(
    store: Store, workflow_id: str, created: int, status: WorkflowStatus = WorkflowStatus.RUNNING, ended: int = 0
) -> None:
    run = msgspec.structs.replace(make_run(workflow_id, create_time=created, status=status), end_time=ended)
    await start(store, run)


async def test_runs_started_and_ended_are_counted_per_minute_within_the_range(store: Store) -> None:
    assert await store.run_counts(T0, T0 + 60 * MINUTE) == []
    await _run(store, "before", T0 - 1, WorkflowStatus.COMPLETED, ended=T0 + 5)
    await _run(store, "a", T0 + 10)
    await _run(store, "b", T0 + MINUTE - 1, WorkflowStatus.COMPLETED, ended=T0 + MINUTE)
    await _run(store, "c", T0 + MINUTE, WorkflowStatus.FAILED, ended=T0 + MINUTE + 30)
    await _run(store, "d", T0 + MINUTE + 1, WorkflowStatus.COMPLETED, ended=T0 + 3 * MINUTE)
    await _run(store, "after", T0 + 3 * MINUTE, WorkflowStatus.COMPLETED, ended=T0 + 3 * MINUTE + 1)

    assert await store.run_counts(T0, T0 + 3 * MINUTE) == [
        RunCount(1000, None, 2),
        RunCount(1000, "COMPLETED", 1),
        RunCount(1001, None, 2),
        RunCount(1001, "COMPLETED", 1),
        RunCount(1001, "FAILED", 1),
    ]


async def test_ended_steps_are_counted_per_minute_type_and_duration_bucket(store: Store) -> None:
    run = make_run("r", create_time=T0 - MINUTE)

    def step(task_id: str, task_type: str, status: TaskStatus, started: int, ended: int) -> object:
        task = make_task(run, task_id, task_type=task_type, status=status)
        return msgspec.structs.replace(task, start_time=started, end_time=ended)

    tasks = [
        step("quick", "sort", TaskStatus.COMPLETED, T0 + 100, T0 + 103),  # 3 ms: bucket 0
        step("quick2", "sort", TaskStatus.FAILED, T0 + 200, T0 + 204),  # 4 ms: bucket 0
        step("second", "sort", TaskStatus.COMPLETED, T0 + MINUTE, T0 + MINUTE + 1_500),  # 1.5 s: bucket 8
        step("slow", "pack", TaskStatus.TIMED_OUT, T0, T0 + 2 * MINUTE),  # 2 min: bucket 14
        step("forever", "pack", TaskStatus.COMPLETED, 1, T0 + 10),  # longer than every bound
        step("running", "sort", TaskStatus.IN_PROGRESS, T0, 0),
        step("canceled", "sort", TaskStatus.CANCELED, T0, T0 + 5),
        step("never_started", "sort", TaskStatus.COMPLETED, 0, T0 + 5),
        step("later", "sort", TaskStatus.COMPLETED, T0, T0 + 3 * MINUTE),
    ]
    await start(store, run, tasks)  # type: ignore[arg-type]

    assert await store.step_latencies(T0, T0 + 3 * MINUTE) == [
        LatencyCount(1000, "pack", len(LATENCY_BOUNDS_MS), 1),
        LatencyCount(1000, "sort", 0, 2),
        LatencyCount(1001, "sort", 8, 1),
        LatencyCount(1002, "pack", 14, 1),
    ]
    assert await store.step_latencies(T0 + 5 * MINUTE, T0 + 6 * MINUTE) == []


async def test_a_step_whose_body_holds_a_nul_escape_ends_and_is_counted(store: Store) -> None:
    """PostgreSQL's JSON refuses ``\\u0000``; the index over the ended steps' bodies must not refuse the write."""
    run = make_run("nul", create_time=T0 - MINUTE)
    task = make_task(run, "nul-step", task_type="nul", status=TaskStatus.COMPLETED)
    task = msgspec.structs.replace(task, start_time=T0, end_time=T0 + 3, output_data={"text": "a\x00b", "x": "\\u0000"})
    await start(store, run, [task])
    assert await store.step_latencies(T0, T0 + MINUTE) == [LatencyCount(1000, "nul", 0, 1)]
