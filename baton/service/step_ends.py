"""Steps' durations counted in this process as its decisions end them, per minute, task type and duration bucket
(``model/metrics.py``), until ``MetricsService.flush`` adds them to the store; what a killed process had not yet
added is lost (the charts are a picture of the hour, not a ledger)."""

from __future__ import annotations

from collections.abc import Iterable

from baton.model import Task, TaskStatus
from baton.model.metrics import MINUTE_MS, LatencyCount, bucket_of

ENDED = frozenset(
    {
        TaskStatus.COMPLETED,
        TaskStatus.COMPLETED_WITH_ERRORS,
        TaskStatus.FAILED,
        TaskStatus.FAILED_WITH_TERMINAL_ERROR,
        TaskStatus.TIMED_OUT,
    }
)
"""The steps that ran to an end (a CANCELED or SKIPPED step did not run to one)."""


class StepEnds:
    def __init__(self) -> None:
        self._counts: dict[tuple[int, str, int], int] = {}

    def note(self, tasks: Iterable[Task], now: int) -> None:
        """Count the steps a decision at ``now`` ended: those it wrote ended at ``now`` (a step ended before and
        written again, say marked retried, is not counted twice), having started."""
        for task in tasks:
            if task.end_time == now and task.start_time > 0 and task.status in ENDED:
                key = (now // MINUTE_MS, task.task_type, bucket_of(now - task.start_time))
                self._counts[key] = self._counts.get(key, 0) + 1

    def drain(self) -> list[LatencyCount]:
        """What was counted since the last drain, and nothing held after it."""
        counts, self._counts = self._counts, {}
        return [LatencyCount(minute, task_type, bucket, n) for (minute, task_type, bucket), n in counts.items()]

    def give_back(self, counts: Iterable[LatencyCount]) -> None:
        """Counts a flush could not write, to be written with the next one."""
        for count in counts:
            key = (count.minute, count.task_type, count.bucket)
            self._counts[key] = self._counts.get(key, 0) + count.count
