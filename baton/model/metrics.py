"""What the operations charts count: runs started and ended, and steps' durations, per minute.

The store counts runs in SQL (``store/common/activity.py``); a step's duration is counted as it ends into one of
the ``LATENCY_BOUNDS_MS`` buckets (``service/step_ends.py``), from which the service reads percentiles
(``service/metrics.py``).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Final

MINUTE_MS: Final = 60_000

LATENCY_BOUNDS_MS: Final[tuple[int, ...]] = (
    5, 10, 20, 50, 100, 200, 500,
    1_000, 2_000, 5_000, 10_000, 20_000, 50_000,
    100_000, 200_000, 500_000, 1_000_000, 2_000_000, 3_600_000,
)  # fmt: skip
"""Upper bounds (exclusive) of the duration buckets, in 1-2-5 steps; bucket ``len(LATENCY_BOUNDS_MS)`` holds every
longer step. A percentile read from them is the bound of the bucket it falls in."""


def bucket_of(duration_ms: int) -> int:
    """The bucket a step that took ``duration_ms`` is counted in."""
    return bisect.bisect_right(LATENCY_BOUNDS_MS, duration_ms)


@dataclass(frozen=True, slots=True)
class RunCount:
    """How many runs started (``status`` None) or ended with ``status`` in the minute ``minute`` (epoch ms / 60000)."""

    minute: int
    status: str | None
    count: int


@dataclass(frozen=True, slots=True)
class LatencyCount:
    """How many steps of ``task_type`` that ended in ``minute`` took a duration in bucket ``bucket``."""

    minute: int
    task_type: str
    bucket: int
    count: int
