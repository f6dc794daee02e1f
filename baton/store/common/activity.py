"""What happened lately, counted per minute in SQL, written once for both stores: runs started, runs ended by
status, and ended steps by task type and duration bucket (``model/metrics.py``).

Each statement reads one time range through an index (0002's ``runs_by_start``, 0022's ``runs_by_end`` and
``tasks_by_end``), so its cost follows the rows in the range, not the store's size. A step's end and start
times live in its JSON body: the index on the end time is an expression index over the ended steps only.
"""

from __future__ import annotations

from baton.model.metrics import LATENCY_BOUNDS_MS, MINUTE_MS, LatencyCount, RunCount
from baton.store.common.database import Database
from baton.store.common.dialect import Dialect, per_dialect

ENDED_TASK_STATUSES = "('COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'FAILED_WITH_TERMINAL_ERROR', 'TIMED_OUT')"
"""The steps that ran to an end (as 0022's ``tasks_by_end`` index names them, word for word)."""


def _time_in(dialect: Dialect, document: str, field: str) -> str:
    """A step's time ``field`` (``endTime``) read from its JSON ``document`` (jsonb on PostgreSQL, text on SQLite)."""
    if dialect is Dialect.POSTGRES:
        return f"(({document} ->> '{field}')::bigint)"
    return f"json_extract({document}, '$.{field}')"


def _document(dialect: Dialect) -> str:
    """The body as a JSON document. PostgreSQL's JSON refuses ``\\u0000`` (a NUL a worker may put in an output), and
    an index over a body it refuses would refuse the step's write: the escape is read as ``\\u0001`` here, which
    keeps the text valid JSON whatever precedes it and leaves the times as they are."""
    return "replace(body, '\\u0000', '\\u0001')::jsonb" if dialect is Dialect.POSTGRES else "body"


SELECT_RUN_STARTS = per_dialect(f"""
SELECT create_time / {MINUTE_MS}, COUNT(*) FROM runs WHERE create_time >= $1 AND create_time < $2
GROUP BY create_time / {MINUTE_MS}""")
SELECT_RUN_ENDS = per_dialect(f"""
SELECT end_time / {MINUTE_MS}, status, COUNT(*) FROM runs WHERE end_time > 0 AND end_time >= $1 AND end_time < $2
GROUP BY end_time / {MINUTE_MS}, status""")


def _bucket(column: str) -> str:
    cases = " ".join(f"WHEN {column} < {bound} THEN {index}" for index, bound in enumerate(LATENCY_BOUNDS_MS))
    return f"CASE {cases} ELSE {len(LATENCY_BOUNDS_MS)} END"


_FENCE = {Dialect.POSTGRES: " OFFSET 0", Dialect.SQLITE: " LIMIT -1"}
"""Keeps a subquery whole: merged into the query around it, each use of a value there would read the JSON again."""


def _step_latencies(dialect: Dialect) -> str:
    """The range is found by 0022's index (its expression word for word); PostgreSQL parses each step's body once
    (``doc``), then reads its times from the parsed document."""
    indexed_end = _time_in(dialect, _document(dialect), "endTime")
    ended, started = _time_in(dialect, "doc", "endTime"), _time_in(dialect, "doc", "startTime")
    fence = _FENCE[dialect]
    return f"""
SELECT ended / {MINUTE_MS}, task_type, {_bucket("took")}, COUNT(*) FROM (
    SELECT task_type, {ended} AS ended, {ended} - {started} AS took FROM (
        SELECT task_type, {_document(dialect)} AS doc FROM tasks
        WHERE status IN {ENDED_TASK_STATUSES} AND {indexed_end} >= $1 AND {indexed_end} < $2{fence}
    ) AS ended_documents
    WHERE {started} > 0{fence}
) AS ended_steps
GROUP BY ended / {MINUTE_MS}, task_type, {_bucket("took")}"""


SELECT_STEP_LATENCIES = per_dialect(_step_latencies)


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

    async def step_latencies(self, since: int, until: int) -> list[LatencyCount]:
        async with self._db.read("count step durations per minute") as tx:
            rows = await tx.fetchall(SELECT_STEP_LATENCIES[self._db.dialect], since, until)
        counts = [
            LatencyCount(int(minute), task_type, int(bucket), int(count)) for minute, task_type, bucket, count in rows
        ]
        return sorted(counts, key=lambda c: (c.minute, c.task_type, c.bucket))
