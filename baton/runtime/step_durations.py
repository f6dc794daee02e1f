"""Adds the steps' durations this process counted to the store every few seconds, beside the API, and once more
when the server stops (``service.metrics.flush``)."""

from __future__ import annotations

import contextlib
import logging

from baton.runtime.periodic import Periodic
from baton.service.metrics import MetricsService

log = logging.getLogger(__name__)

INTERVAL_S = 5.0


class StepDurations:
    def __init__(self, metrics: MetricsService) -> None:
        self._metrics = metrics
        self._periodic = Periodic("baton-step-durations", self._pass, interval_s=INTERVAL_S, log=log)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()
        with contextlib.suppress(Exception):
            await self._metrics.flush()

    async def _pass(self) -> bool:
        await self._metrics.flush()
        return False
