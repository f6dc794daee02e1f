"""The store contract (``baton/store/roles.py``) for the per-minute counts of the operations charts, run against
every backend."""

from __future__ import annotations

import msgspec
import pytest

from baton.model import WorkflowStatus
from baton.model.metrics import LatencyCount, RunCount
from baton.store import Store
from tests.store.store_builders import make_run, start

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


async def test_step_durations_add_up_per_minute_type_and_bucket_and_old_minutes_go(store: Store) -> None:
    assert await store.step_latencies(T0, T0 + 60 * MINUTE) == []
    first_server = [LatencyCount(1000, "sort", 0, 2), LatencyCount(1001, "sort", 8, 1), LatencyCount(999, "old", 1, 4)]
    other_server = [LatencyCount(1000, "sort", 0, 3), LatencyCount(1002, "pack", 14, 1), LatencyCount(1003, "x", 1, 1)]
    await store.add_step_latencies(first_server)
    await store.add_step_latencies(other_server)

    assert await store.step_latencies(T0, T0 + 3 * MINUTE) == [
        LatencyCount(1000, "sort", 0, 5),
        LatencyCount(1001, "sort", 8, 1),
        LatencyCount(1002, "pack", 14, 1),
    ]
    assert await store.forget_step_latencies(1000) == 1
    assert await store.step_latencies(T0 - MINUTE, T0) == []
    assert len(await store.step_latencies(T0, T0 + 60 * MINUTE)) == 4
