"""Deletes finished runs older than the retention setting, in batches, beside the API.

A run is finished when COMPLETED, FAILED, TIMED_OUT or TERMINATED; its age is
counted from its end time. Its tasks, queue rows, timers and idempotency key go
with it. Event executions (what handlers did with each published event), webhook
deliveries delivered or given up, and audit log entries, recorded before the same
cutoff, go too. Each batch is one short transaction, so deleting a large backlog
never holds the database for long; a pass runs batches until one comes back short,
then sleeps ``retention_interval_ms``. With ``retention_days`` 0 (the default)
nothing is ever deleted and the loop does not start. Any number of processes
may run it against one database: a batch skips runs another holds.
"""

from __future__ import annotations

import logging

from baton.runtime.periodic import Periodic
from baton.service.audit import AuditService
from baton.service.events import EventHandlerService
from baton.service.search import SearchService
from baton.service.webhooks import WebhookService

log = logging.getLogger(__name__)

BATCH = 500


class Retention:
    def __init__(
        self,
        search: SearchService,
        *,
        retention_days: float,
        interval_ms: int,
        events: EventHandlerService | None = None,
        webhooks: WebhookService | None = None,
        audit: AuditService | None = None,
    ) -> None:
        self._search = search
        self._events = events
        self._webhooks = webhooks
        self._audit = audit
        self._retention_days = retention_days
        self._periodic = Periodic("baton-retention", self._pass, interval_s=interval_ms / 1000, log=log)

    @property
    def enabled(self) -> bool:
        return self._retention_days > 0

    def start(self) -> None:
        if self.enabled:
            self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def run_once(self) -> int:
        """Delete batches until one is short; returns how many runs went (event executions, webhook deliveries
        and audit entries go too)."""
        deleted = 0
        while True:
            count = await self._search.delete_finished(self._retention_days, batch=BATCH)
            deleted += count
            if count < BATCH:
                break
        if self._events is not None:
            while await self._events.forget_executions(self._retention_days, batch=BATCH) == BATCH:
                pass
        if self._webhooks is not None:
            while await self._webhooks.forget_deliveries(self._retention_days, batch=BATCH) == BATCH:
                pass
        if self._audit is not None:
            while await self._audit.forget(self._retention_days, batch=BATCH) == BATCH:
                pass
        return deleted

    async def _pass(self) -> bool:
        deleted = await self.run_once()
        if deleted:
            log.info("retention: deleted %d finished runs older than %g days", deleted, self._retention_days)
        return False
