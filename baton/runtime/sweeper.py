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

import logging

from baton.engine import Event, RunTimerFired, TimerFired
from baton.errors import BatonError
from baton.runtime.periodic import Periodic
from baton.service.context import ServiceContext

log = logging.getLogger(__name__)
alerts = logging.getLogger("baton.alerts")

_BATCH = 200


class Sweeper:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._periodic = Periodic(
            "baton-sweeper", self._pass, interval_s=ctx.settings.sweep_interval_ms / 1000, log=log
        )

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

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

    async def _pass(self) -> bool:
        return await self.sweep_once() >= _BATCH
