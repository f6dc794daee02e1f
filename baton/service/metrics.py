"""Numbers over the last hour, per minute: runs started, completed and failed, and steps' duration percentiles
(each minute's, and each task type's over the hour). The operations charts read them; so will later metrics.

The store counts runs per minute in SQL (``ActivityStore``); a step's duration is counted as it ends into a bucket
of ``LATENCY_BOUNDS_MS`` (1-2-5 steps, ``step_ends.py``) and added to the store by ``flush``, so a percentile here
is the upper bound of the bucket it falls in, and a read's cost follows minutes, types and buckets, not steps.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from baton.model.metrics import LATENCY_BOUNDS_MS, MINUTE_MS, LatencyCount
from baton.model.runs import WorkflowStatus
from baton.service.context import ServiceContext

HOUR_MINUTES: Final = 60
PERCENTILES: Final = (0.50, 0.95, 0.99)
FAILED_STATUSES: Final = frozenset({WorkflowStatus.FAILED.value, WorkflowStatus.TIMED_OUT.value})
"""Runs that ended failing (a TERMINATED run was stopped by someone: neither completed nor failed)."""


@dataclass(frozen=True, slots=True)
class MinuteRuns:
    minute_start: int
    """Epoch milliseconds of the minute's start (UTC)."""
    started: int
    completed: int
    failed: int


@dataclass(frozen=True, slots=True)
class Latency:
    """How many steps ended, and their p50, p95 and p99 durations in ms (None when none ended)."""

    count: int
    p50: int | None
    p95: int | None
    p99: int | None


@dataclass(frozen=True, slots=True)
class MinuteLatency:
    minute_start: int
    latency: Latency


@dataclass(frozen=True, slots=True)
class LastHour:
    since: int
    until: int
    """The hour read, ``[since, until)``, whole minutes up to the end of the current one."""
    runs: list[MinuteRuns]
    """One for each of the hour's minutes, oldest first."""
    latency: list[MinuteLatency]
    """One for each of the hour's minutes, oldest first."""
    latency_by_type: dict[str, Latency]
    """Over the whole hour, by task type (in name order)."""


def percentile_of_buckets(counts: dict[int, int], fraction: float) -> int | None:
    """The upper bound (ms) of the bucket holding the ``fraction`` quantile of the counted durations; the longest
    bound for the bucket beyond it; None when nothing was counted."""
    total = sum(counts.values())
    if total == 0:
        return None
    wanted = fraction * total
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= wanted:
            return LATENCY_BOUNDS_MS[min(bucket, len(LATENCY_BOUNDS_MS) - 1)]
    return LATENCY_BOUNDS_MS[-1]


def latency_of(counts: Iterable[LatencyCount]) -> Latency:
    buckets: dict[int, int] = defaultdict(int)
    for count in counts:
        buckets[count.bucket] += count.count
    p50, p95, p99 = (percentile_of_buckets(buckets, fraction) for fraction in PERCENTILES)
    return Latency(count=sum(buckets.values()), p50=p50, p95=p95, p99=p99)


KEPT_MINUTES: Final = 24 * 60
"""How long the steps' durations are kept: a day (the charts read an hour)."""


class MetricsService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._forgotten_at: int | None = None
        """The minute this process last forgot old durations: it does so once an hour, not every flush."""

    async def flush(self) -> None:
        """Add the steps' durations this process counted to the store (nothing is written when none were), and once
        an hour forget those older than a day; what could not be written is kept for the next flush."""
        counts = self._ctx.step_ends.drain()
        if counts:
            try:
                await self._ctx.store.add_step_latencies(counts)
            except BaseException:
                self._ctx.step_ends.give_back(counts)
                raise
        minute = self._ctx.clock() // MINUTE_MS
        if self._forgotten_at is None or minute - self._forgotten_at >= HOUR_MINUTES:
            self._forgotten_at = minute
            await self._ctx.store.forget_step_latencies(minute - KEPT_MINUTES)

    async def last_hour(self) -> LastHour:
        """The last sixty minutes, the current one last (still counting); this process's latest steps included."""
        await self.flush()
        until = (self._ctx.clock() // MINUTE_MS + 1) * MINUTE_MS
        since = until - HOUR_MINUTES * MINUTE_MS
        store = self._ctx.store
        first = since // MINUTE_MS
        started, completed, failed = ([0] * HOUR_MINUTES for _ in range(3))
        for count in await store.run_counts(since, until):
            at = count.minute - first
            if count.status is None:
                started[at] += count.count
            elif count.status == WorkflowStatus.COMPLETED.value:
                completed[at] += count.count
            elif count.status in FAILED_STATUSES:
                failed[at] += count.count
        latencies = await store.step_latencies(since, until)
        by_minute: dict[int, list[LatencyCount]] = defaultdict(list)
        by_type: dict[str, list[LatencyCount]] = defaultdict(list)
        for latency in latencies:
            by_minute[latency.minute].append(latency)
            by_type[latency.task_type].append(latency)
        return LastHour(
            since=since,
            until=until,
            runs=[
                MinuteRuns((first + i) * MINUTE_MS, started[i], completed[i], failed[i]) for i in range(HOUR_MINUTES)
            ],
            latency=[
                MinuteLatency((first + i) * MINUTE_MS, latency_of(by_minute.get(first + i, [])))
                for i in range(HOUR_MINUTES)
            ],
            latency_by_type={task_type: latency_of(by_type[task_type]) for task_type in sorted(by_type)},
        )
