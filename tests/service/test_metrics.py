"""The last hour's numbers (``service.metrics``): sixty minutes up to the current one, runs started, completed and
failed in each, and steps' duration percentiles per minute and per task type, on each store."""

from __future__ import annotations

import msgspec
import pytest

from baton.model import Task, TaskStatus, WorkflowStatus
from baton.model.metrics import MINUTE_MS
from baton.service import Baton
from baton.service.metrics import Latency
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(60)

T0 = 20_000 * MINUTE_MS
NOW = T0 + 59 * MINUTE_MS + 30_000
"""Half way through the hour's last minute."""


async def test_the_last_hour_counts_runs_and_step_durations_minute_by_minute(baton: Baton) -> None:
    baton.context.clock = lambda: NOW
    store = baton.store
    ends = [
        ("too_old", T0 - 1, WorkflowStatus.COMPLETED, T0 - 1),
        ("first", T0, WorkflowStatus.COMPLETED, T0 + 10),
        ("failed", T0 + MINUTE_MS, WorkflowStatus.FAILED, T0 + 2 * MINUTE_MS),
        ("timed_out", T0 + MINUTE_MS, WorkflowStatus.TIMED_OUT, T0 + 2 * MINUTE_MS),
        ("terminated", T0 + MINUTE_MS, WorkflowStatus.TERMINATED, T0 + 2 * MINUTE_MS),
        ("running", NOW - 1, WorkflowStatus.RUNNING, 0),
    ]
    for workflow_id, created, status, ended in ends:
        run = make_run(workflow_id, create_time=created, status=status)
        await start(store, msgspec.structs.replace(run, end_time=ended))

    run = make_run("steps", create_time=T0 - MINUTE_MS)
    ended = NOW - 5

    def step(task_id: str, task_type: str, took: int, end: int = ended) -> Task:
        task = make_task(run, task_id, task_type=task_type, status=TaskStatus.COMPLETED)
        return msgspec.structs.replace(task, start_time=end - took, end_time=end)

    quick = [step(f"q{i}", "sort", 3) for i in range(98)]
    never_started = msgspec.structs.replace(step("never", "sort", 3), start_time=0)
    ended_before = step("before", "sort", 3, end=ended - 1)  # written again by a later decision: counted then
    canceled = msgspec.structs.replace(step("canceled", "sort", 3), status=TaskStatus.CANCELED)
    baton.context.step_ends.note([*quick, step("mid", "sort", 700), never_started, ended_before, canceled], ended)
    baton.context.step_ends.note([step("slow", "pack", 9_000)], ended)

    hour = await baton.metrics.last_hour()

    assert (hour.since, hour.until) == (T0, T0 + 60 * MINUTE_MS)
    assert [m.minute_start for m in hour.runs] == [T0 + i * MINUTE_MS for i in range(60)]
    assert (hour.runs[0].started, hour.runs[0].completed, hour.runs[0].failed) == (1, 1, 0)
    assert (hour.runs[1].started, hour.runs[2].failed, hour.runs[2].completed) == (3, 2, 0)
    assert hour.runs[59].started == 1
    assert sum(m.started for m in hour.runs) == 5
    assert [m.latency.count for m in hour.latency[:59]] == [0] * 59
    assert hour.latency[59].latency == Latency(count=100, p50=5, p95=5, p99=1_000)
    assert hour.latency_by_type == {
        "pack": Latency(count=1, p50=10_000, p95=10_000, p99=10_000),
        "sort": Latency(count=99, p50=5, p95=5, p99=1_000),
    }
