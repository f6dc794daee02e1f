"""What happened lately, per minute, written once for both stores: runs started and runs ended by status, counted
in SQL through an index over a time range (0002's ``runs_by_start``, 0022's ``runs_by_end``), so a read's cost
follows the runs in the range, not the store's size; and steps' durations by task type and bucket
(``model/metrics.py``), which each server counts as its steps end and adds to ``step_durations``.
"""

from __future__ import annotations

from baton.model.metrics import MINUTE_MS, LatencyCount, RunCount
from baton.store.common.database import Database
from baton.store.common.dialect import per_dialect

SELECT_RUN_STARTS = per_dialect(f"""
SELECT create_time / {MINUTE_MS}, COUNT(*) FROM runs WHERE create_time >= $1 AND create_time < $2
GROUP BY create_time / {MINUTE_MS}""")
SELECT_RUN_ENDS = per_dialect(f"""
SELECT end_time / {MINUTE_MS}, status, COUNT(*) FROM runs WHERE end_time > 0 AND end_time >= $1 AND end_time < $2
GROUP BY end_time / {MINUTE_MS}, status""")
ADD_STEP_DURATIONS = per_dialect("""
INSERT INTO step_durations (minute, task_type, bucket, count) VALUES ($1, $2, $3, $4)
ON CONFLICT (minute, task_type, bucket) DO UPDATE SET count = step_durations.count + excluded.count""")
SELECT_STEP_DURATIONS = per_dialect("""
SELECT minute, task_type, bucket, count FROM step_durations WHERE minute >= $1 AND minute < $2""")
DELETE_STEP_DURATIONS_BEFORE = per_dialect("DELETE FROM step_durations WHERE minute < $1")


class Activity:
    """``ActivityStore`` over the store's ``Database``."""

    _db: Database

    async def run_counts(self, since: int, until: int) -> list[RunCount]:
        async with self._db.read("count runs per minute") as tx:
            started = await tx.fetchall(SELECT_RUN_STARTS[self._db.dialect], since, until)
            ended = await tx.fetchall(SELECT_RUN_ENDS[self._db.dialect], since, until)
        counts = [RunCount(int(minute), None, int(count)) for minute, count in started]
        counts.extend(RunCount(int(minute), status, int(count)) for minute, status, count in ended)
        return sorted(counts, key=lambda c: (c.minute, c.status or ""))

    async def add_step_latencies(self, counts: list[LatencyCount]) -> None:
        rows = [(count.minute, count.task_type, count.bucket, count.count) for count in counts]
        async with self._db.write("add step durations") as tx:
            await tx.executemany(ADD_STEP_DURATIONS[self._db.dialect], rows)

    async def forget_step_latencies(self, before_minute: int) -> int:
        async with self._db.write_one("delete old step durations") as tx:
            return await tx.execute(DELETE_STEP_DURATIONS_BEFORE[self._db.dialect], before_minute)

    async def step_latencies(self, since: int, until: int) -> list[LatencyCount]:
        async with self._db.read("read step durations per minute") as tx:
            rows = await tx.fetchall(
                SELECT_STEP_DURATIONS[self._db.dialect], since // MINUTE_MS, -(-until // MINUTE_MS)
            )
        counts = [
            LatencyCount(int(minute), task_type, int(bucket), int(count)) for minute, task_type, bucket, count in rows
        ]
        return sorted(counts, key=lambda c: (c.minute, c.task_type, c.bucket))
