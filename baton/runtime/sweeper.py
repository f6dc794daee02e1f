"""Fires due timers: expired worker leases (retried per their TaskDef), WAIT tasks whose time came,
delayed starts and retries, task timeouts and run timeouts (``engine.timeouts``).

Timers are rows in the store, so a restart neither loses nor double-fires one:
firing is a decision like any other, and a timer that is no longer due (the
lease was extended, the task finished) is a no-op. Any number of processes
may sweep one database; decisions on one run are serialised by the store.
An ALERT_ONLY timeout changes nothing but a marker; its alert is logged here,
once, at WARNING on the ``baton.alerts`` logger.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from baton.engine import Event, RunTimerFired, TimerFired
from baton.errors import BatonError
from baton.service.context import ServiceContext

log = logging.getLogger(__name__)
alerts = logging.getLogger("baton.alerts")

_BATCH = 200


class Sweeper:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="baton-sweeper")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def sweep_once(self) -> int:
        """Fire up to one batch of the timers due now; returns how many were due."""
        due = await self._ctx.store.due_timers(self._ctx.clock(), _BATCH)
        for timer in due:
            event: Event = RunTimerFired() if timer.task_id is None else TimerFired(task_id=timer.task_id)
            try:
                decision = await self._ctx.apply_event(timer.workflow_id, event)
            except BatonError as exc:
                log.debug("timer on %s %s not fired: %s", timer.workflow_id, timer.task_id or "(run)", exc)
                continue
            for alert in decision.alerts:
                alerts.warning("ALERT_ONLY timeout: %s", alert)
        return len(due)

    async def _loop(self) -> None:
        interval = self._ctx.settings.sweep_interval_ms / 1000
        while True:
            due = 0
            try:
                due = await self.sweep_once()
            except Exception:
                log.exception("sweeper pass failed; trying again")
            if due < _BATCH:
                await asyncio.sleep(interval)
