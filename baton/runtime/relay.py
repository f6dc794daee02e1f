"""Acts on outbox signals that the process which wrote them did not (it died, or a store call failed).

The process that commits a decision acts on its signals at once; a signal still
in the outbox ``outbox_relay_after_ms`` later is taken up here, by whichever
server looks first. Acting twice is harmless: every signal kind is idempotent
(see ``service.children`` and ``service.event_actions``).
"""

from __future__ import annotations

import logging

from baton.runtime.periodic import Periodic
from baton.service import Baton

log = logging.getLogger(__name__)

_BATCH = 100


class OutboxRelay:
    def __init__(self, service: Baton) -> None:
        self._service = service
        interval_s = service.context.settings.sweep_interval_ms / 1000
        self._periodic = Periodic("baton-outbox-relay", self._pass, interval_s=interval_s, log=log)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def relay_once(self) -> int:
        """Act on up to one batch of overdue signals; returns how many there were."""
        ctx = self._service.context
        overdue = await ctx.store.signals_created_before(ctx.clock() - ctx.settings.outbox_relay_after_ms, _BATCH)
        for signal in overdue:
            try:
                await self._service.handle_signal(signal)
            except Exception:
                log.exception("signal %s (%s) not acted on; trying again later", signal.signal_id, signal.kind.value)
        return len(overdue)

    async def _pass(self) -> bool:
        return await self.relay_once() >= _BATCH
