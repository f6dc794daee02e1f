"""The webhook sender: claims due deliveries under a lease, POSTs each, records every attempt.

One loop per server, woken when an event is recorded (``service.webhooks.WAKE_KEY``) and otherwise every
``webhook_poll_interval_ms`` (a retry's time come, another server's events). A claim leases each delivery for
longer than a POST may take, so no two servers send one attempt at once; a server that dies mid-POST leaves its
lease to run out, and the same delivery is claimed again (at least once). A 2xx answer delivers it; anything
else (another status, no answer, a redirect, which is not followed: a POST turned GET would lose its body) is
retried after an exponential backoff, until the retry window ends: then it is ``failed``; a URL the outbound
guard refuses (``runtime.outbound``) is ``failed`` at once, as no retry can reach it. The same loop records
the run ends no signal reported (``WebhookService.catch_up``) every ``outbox_relay_after_ms``; another re-reads
the server-wide subscriptions when any server changes one (``SUBSCRIPTIONS_KEY``) and at that interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

import httpx

from baton.model.webhooks import DeliveryAttempt, DeliveryStatus
from baton.runtime.executors.http import failure_reason
from baton.runtime.outbound import OutboundRefused, guarded_client
from baton.service import Baton
from baton.service.webhooks import SUBSCRIPTIONS_KEY, WAKE_KEY
from baton.store.webhook_records import AttemptOutcome, ClaimedDelivery

log = logging.getLogger(__name__)

USER_AGENT: Final = "Baton-Webhooks"
_LEASE_MARGIN_MS: Final = 5000
_MAX_ERROR_BODY: Final = 300
_MAX_READ_BYTES: Final = 64 * 1024


def backoff_ms(attempt: int, initial_ms: int, max_ms: int) -> int:
    """The wait after the ``attempt``-th failed attempt: ``initial_ms`` doubled each time, at most ``max_ms``."""
    return int(min(max_ms, initial_ms * 2 ** min(attempt - 1, 40)))


class WebhookDelivery:
    def __init__(self, service: Baton) -> None:
        self._service = service
        self._ctx = service.context
        settings = self._ctx.settings
        self._concurrency = max(1, settings.webhook_concurrency)
        self._client = guarded_client(settings, max_connections=self._concurrency, follow_redirects=False)
        self._sending: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []
        self._next_catch_up = 0.0

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(self._loop(), name="baton-webhook-delivery"),
            loop.create_task(self._follow_subscriptions(), name="baton-webhook-subscriptions"),
        ]

    async def stop(self) -> None:
        tasks = [*self._loops, *self._sending]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._client.aclose()

    async def _loop(self) -> None:
        interval = self._ctx.settings.webhook_poll_interval_ms / 1000
        with self._ctx.notifier.listen(WAKE_KEY) as waiter:
            while True:
                claimed = 0
                try:
                    await self._catch_up()
                    claimed = await self.deliver_once()
                except Exception:
                    log.exception("webhook delivery pass failed; trying again")
                if len(self._sending) >= self._concurrency:
                    await asyncio.wait(self._sending, return_when=asyncio.FIRST_COMPLETED)
                elif claimed == 0:
                    await waiter.wait(interval)

    async def _catch_up(self) -> None:
        """Now and then, the ends no signal reported."""
        now = time.monotonic()
        if now < self._next_catch_up:
            return
        self._next_catch_up = now + self._ctx.settings.outbox_relay_after_ms / 1000
        await self._service.webhooks.catch_up()

    async def _follow_subscriptions(self) -> None:
        """Re-read the server-wide subscriptions when any server changes one, and every ``outbox_relay_after_ms``
        (a wake-up missed)."""
        interval = self._ctx.settings.outbox_relay_after_ms / 1000
        with self._ctx.notifier.listen(SUBSCRIPTIONS_KEY) as waiter:
            while True:
                await waiter.wait(interval)
                try:
                    await self._service.webhooks.refresh_server_wide()
                except Exception:
                    log.exception("reading the webhook subscriptions failed; trying again")

    async def deliver_once(self) -> int:
        """Claim what the free slots allow and start sending it; how many were claimed."""
        free = self._concurrency - len(self._sending)
        if free <= 0:
            return 0
        now = self._ctx.clock()
        lease_until = now + self._ctx.settings.webhook_timeout_ms + _LEASE_MARGIN_MS
        claimed = await self._ctx.store.claim_deliveries(now, lease_until, self._ctx.new_id(), free)
        for delivery in claimed:
            task = asyncio.get_running_loop().create_task(self._deliver(delivery))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return len(claimed)

    async def _deliver(self, delivery: ClaimedDelivery) -> None:
        try:
            outcome = await self._attempt(delivery)
            await self._ctx.store.finish_attempt(delivery, outcome)
            if outcome.status is DeliveryStatus.FAILED:
                log.warning("webhook %s to %s given up: %s", delivery.delivery_id, delivery.url, outcome.attempt.error)
            if outcome.status is not DeliveryStatus.PENDING:
                self._ctx.notifier.publish([WAKE_KEY])  # the run's next event may go now
        except Exception:
            log.exception("webhook %s: the attempt was not recorded; it is tried again after its lease", delivery.url)

    async def _attempt(self, delivery: ClaimedDelivery) -> AttemptOutcome:
        settings = self._ctx.settings
        budget = settings.webhook_timeout_ms / 1000
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-HMAC-Signature": delivery.signature,
            "Idempotency-Key": delivery.delivery_id,
        }
        at = self._ctx.clock()
        started = time.monotonic()
        status_code: int | None = None
        error: str | None = None
        refused = False
        try:
            async with asyncio.timeout(budget):
                request = self._client.build_request(
                    "POST", delivery.url, content=delivery.body.encode(), headers=headers, timeout=budget
                )
                response = await self._client.send(request, stream=True)
                try:
                    status_code = response.status_code
                    if not 200 <= status_code < 300:
                        error = f"answered {status_code} {response.reason_phrase}{await _excerpt(response)}"
                finally:
                    await response.aclose()
        except OutboundRefused as exc:
            error, refused = str(exc), True
        except (httpx.HTTPError, TimeoutError) as exc:
            error = failure_reason(exc)
        duration_ms = int((time.monotonic() - started) * 1000)
        attempt = DeliveryAttempt(
            attempt=delivery.attempt, at=at, duration_ms=duration_ms, status_code=status_code, error=error
        )
        if error is None:
            return AttemptOutcome(attempt=attempt, status=DeliveryStatus.DELIVERED, next_attempt_at=0)
        wait = backoff_ms(delivery.attempt, settings.webhook_backoff_initial_ms, settings.webhook_backoff_max_ms)
        next_attempt_at = at + duration_ms + wait
        if refused or next_attempt_at > delivery.give_up_at:
            return AttemptOutcome(attempt=attempt, status=DeliveryStatus.FAILED, next_attempt_at=0)
        return AttemptOutcome(attempt=attempt, status=DeliveryStatus.PENDING, next_attempt_at=next_attempt_at)


async def _excerpt(response: httpx.Response) -> str:
    """The start of an unsuccessful answer's body, for the attempt's record."""
    raw = bytearray()
    async for chunk in response.aiter_bytes():
        raw.extend(chunk)
        if len(raw) >= _MAX_READ_BYTES:
            break
    text = bytes(raw[:_MAX_ERROR_BODY]).decode(errors="replace").strip()
    return f": {text}" if text else ""
