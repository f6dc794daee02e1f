"""Outgoing webhooks: subscriptions, and recording each event for every subscriber that wants it.

Recording is all this does; ``runtime/webhook_delivery.py`` sends. An event becomes one delivery per matching
subscription (a run's own, from ``subscribe_run``, and the server-wide ones), its body and signature fixed and
stored with it, so a crash after recording loses nothing and every attempt sends the same bytes.

A run's end (``workflow.completed``) is recorded without costing runs nobody watches anything: the ending
decision asks ``watches_end`` (an in-memory set of watched runs, and whether any server-wide subscription wants
ends) and, only when it is true, writes a RUN_ENDED signal to the outbox in its own transaction; acting on it
records the event. What no signal covers (a run subscribed on another server, its end decided here) the catch-up
finds: watched runs that ended and whose end is not yet recorded. Both use one event key per ending, so an end
is recorded once. A run's state and documents are told the same way (``watches_changes``, the RUN_CHANGED signal,
``service/run_changes.py``); recording an end tells them first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec

from baton.engine import Signal
from baton.errors import FieldError, NotFoundError, ValidationError, workflow_not_found
from baton.model import Workflow
from baton.model.validation import name_problem
from baton.model.webhooks import (
    EVENT_NAMES,
    WORKFLOW_COMPLETED,
    WORKFLOW_DOCUMENT_CHANGED,
    WORKFLOW_STATE_CHANGED,
    DeliveryStatus,
    Webhook,
    WebhookDelivery,
    check_subscription,
    parse_run_subscriptions,
)
from baton.service.context import ServiceContext
from baton.service.run_changes import RunChanges
from baton.service.search import DAY_MS
from baton.service.webhook_events import deliveries_for, end_fields, run_context, subscribers_of

WAKE_KEY: Final = "webhooks"
"""The wake-up key the sender listens on: a delivery was recorded, or made due again."""
SUBSCRIPTIONS_KEY: Final = "webhooks:subscriptions"
"""Published when a server-wide subscription changes, so every server re-reads them at once (across servers on
PostgreSQL, by NOTIFY)."""
_RESERVED_IDS: Final = frozenset({"deliveries"})
_WEBHOOK_FIELDS: Final = frozenset({"id", "url", "events", "secret", "enabled"})
_WATCHED_LOADED: Final = 100_000
MAX_LIST: Final = 1000

ContextOf = Callable[[Workflow], dict[str, Any]]


class WebhookService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._watched: set[str] = set()
        self._ends_wanted = False
        self._changes_wanted = False
        self.changes = RunChanges(ctx, WAKE_KEY)
        self.context_of: ContextOf = run_context
        """The ``data`` of a run's ``workflow.completed``: a surface with a richer notion of a run's context
        (Ballerine's) may replace it."""
        ctx.run_end_watched = self.watches_end
        ctx.run_change_watched = self.watches_changes

    def watches_end(self, workflow_id: str) -> bool:
        """Asked by every decision that ends a run: a set lookup, nothing read."""
        return self._ends_wanted or workflow_id in self._watched

    def watches_changes(self, workflow_id: str) -> bool:
        """Asked by every decision that may change what a run shows (``engine/run_changes.py``): a set lookup."""
        return self._changes_wanted or workflow_id in self._watched

    def watch(self, workflow_id: str) -> None:
        """Watch a run about to start (its subscriptions stored once it has): its decisions signal from the first."""
        self._watched.add(workflow_id)

    def unwatch(self, workflow_id: str) -> None:
        self._watched.discard(workflow_id)

    async def load(self) -> None:
        """What ``watches_end`` knows, from the store: at start, then now and then (another server's changes)."""
        await self.refresh_server_wide()
        self._watched.update(await self._ctx.store.watched_running_runs(_WATCHED_LOADED))

    async def refresh_server_wide(self) -> None:
        hooks = await self._ctx.store.list_webhooks()
        self._ends_wanted = any(hook.enabled and WORKFLOW_COMPLETED in hook.events for hook in hooks)
        changes = (WORKFLOW_STATE_CHANGED, WORKFLOW_DOCUMENT_CHANGED)
        self._changes_wanted = any(hook.enabled and any(e in hook.events for e in changes) for hook in hooks)

    async def _changed(self) -> None:
        await self.refresh_server_wide()
        self._ctx.notifier.publish([SUBSCRIPTIONS_KEY])

    # -- server-wide subscriptions --

    async def create_webhook(self, body: Any) -> Webhook:
        now = self._ctx.clock()
        webhook = _webhook_from(body, default_id=self._ctx.new_id(), now=now, current=None)
        await self._ctx.store.create_webhook(webhook)
        await self._changed()
        return webhook

    async def replace_webhook(self, webhook_id: str, body: Any) -> Webhook:
        """A full replacement, but a ``secret`` left out keeps the current one (``null`` removes it)."""
        current = await self._get(webhook_id)
        webhook = _webhook_from(body, default_id=webhook_id, now=self._ctx.clock(), current=current)
        if webhook.id != webhook_id:
            raise ValidationError(errors=[FieldError("id", f"must be {webhook_id!r}, the id in the path")])
        if not await self._ctx.store.update_webhook(webhook):
            raise NotFoundError(f"No webhook {webhook_id}")
        await self._changed()
        return webhook

    async def get_webhook(self, webhook_id: str) -> Webhook:
        return await self._get(webhook_id)

    async def list_webhooks(self) -> list[Webhook]:
        return await self._ctx.store.list_webhooks()

    async def delete_webhook(self, webhook_id: str) -> None:
        if not await self._ctx.store.delete_webhook(webhook_id):
            raise NotFoundError(f"No webhook {webhook_id}")
        await self._changed()

    async def _get(self, webhook_id: str) -> Webhook:
        webhook = await self._ctx.store.get_webhook(webhook_id)
        if webhook is None:
            raise NotFoundError(f"No webhook {webhook_id}")
        return webhook

    # -- events --

    async def started(self, run: Workflow, subscriptions: list[dict[str, Any]] | None) -> None:
        """A run just started (``run`` as its first decision left it): its own subscriptions, if any, and its
        starting point when anyone may want its state or documents."""
        if subscriptions:
            await self.subscribe_run(run.workflow_id, subscriptions, start=run)
        elif self._changes_wanted:
            await self.changes.starting_point(run)

    async def subscribe_run(
        self, workflow_id: str, subscriptions: list[dict[str, Any]], *, start: Workflow | None = None
    ) -> None:
        """A run's ``config.subscriptions``: its events from now on, and its end, go to them.

        ``start``: the run as its first decision left it, its starting point (what changed since is told now);
        without it, the run as it is now. A run that has already ended (a start that ran to its end at once)
        gets its ``workflow.completed`` now.
        """
        parsed = parse_run_subscriptions(subscriptions)
        stored = [msgspec.to_builtins(subscription) for subscription in parsed]
        self._watched.add(workflow_id)  # before the write: an end or a change decided meanwhile signals
        if start is None:
            start = await self._ctx.store.get_run(workflow_id, include_tasks=True)
        # The starting point before the subscriptions: a change acted on once they are stored compares with it.
        if start is not None:
            await self.changes.starting_point(start)
        if start is None or not await self._ctx.store.put_run_subscriptions(workflow_id, stored, self._ctx.clock()):
            self._watched.discard(workflow_id)
            raise workflow_not_found(workflow_id)
        await self.changes.check(workflow_id)
        run = await self._ctx.store.get_run(workflow_id, include_tasks=False)
        if run is not None and run.status.is_terminal:
            await self.record_end(run)

    async def emit(
        self, workflow_id: str, event_name: str, data: dict[str, Any], *, extra: Mapping[str, Any] | None = None
    ) -> None:
        """Record ``event_name`` of the run for every subscription that wants it (none: nothing is written).

        ``extra`` adds top-level fields of the event's own (Ballerine's ``state``, ``assignee``...).
        """
        if event_name not in EVENT_NAMES:
            raise ValidationError(errors=[FieldError("eventName", f"must be one of: {', '.join(EVENT_NAMES)}")])
        run = await self._ctx.store.get_run(workflow_id, include_tasks=False)
        if run is None:
            raise workflow_not_found(workflow_id)
        await self._record(run, event_name, data, event_key=self._ctx.new_id(), extra=extra)

    async def record_end(self, run: Workflow) -> None:
        """Record the run's ``workflow.completed`` (once per ending), after what changed in its state and
        documents, and stop watching it."""
        await self.changes.check(run.workflow_id)
        await self._record(
            run,
            WORKFLOW_COMPLETED,
            self.context_of(run),
            event_key=f"{run.workflow_id}:ended:{run.end_time}",
            extra=end_fields(run),
            stop_watching=True,
        )
        self._watched.discard(run.workflow_id)

    async def handle_run_ended(self, signal: Signal) -> None:
        """Act on a RUN_ENDED signal: the end recorded, the signal gone. A run running again (restarted since) or
        gone (removed) has no end to record."""
        run = await self._ctx.store.get_run(signal.target_workflow_id, include_tasks=False)
        if run is not None and run.status.is_terminal:
            await self.record_end(run)
        await self._ctx.store.delete_signal(signal.signal_id)

    async def catch_up(self, limit: int = 100) -> int:
        """Record the ends no signal reported (watched runs that ended some time ago); how many there were."""
        ended_before = self._ctx.clock() - self._ctx.settings.outbox_relay_after_ms
        found = await self._ctx.store.watched_ended_runs(ended_before, limit)
        for workflow_id in found:
            run = await self._ctx.store.get_run(workflow_id, include_tasks=False)
            if run is not None and run.status.is_terminal:
                await self.record_end(run)
        return len(found)

    async def _record(
        self,
        run: Workflow,
        event_name: str,
        data: Any,
        *,
        event_key: str,
        extra: Mapping[str, Any] | None,
        stop_watching: bool = False,
    ) -> None:
        store = self._ctx.store
        own = await store.run_subscriptions(run.workflow_id)
        subscribers = subscribers_of(own, await store.list_webhooks())
        deliveries = deliveries_for(
            subscribers,
            run=run,
            event_name=event_name,
            data=data,
            event_key=event_key,
            extra=extra,
            now=self._ctx.clock(),
            settings=self._ctx.settings,
            new_id=self._ctx.new_id,
        )
        if not deliveries and not (stop_watching and own):
            return
        await store.record_deliveries(deliveries, stop_watching=run.workflow_id if stop_watching and own else None)
        if deliveries:
            self._ctx.notifier.publish([WAKE_KEY])

    # -- deliveries --

    async def deliveries(
        self, *, status: DeliveryStatus | None = None, workflow_id: str | None = None, limit: int = 100
    ) -> list[WebhookDelivery]:
        return await self._ctx.store.list_deliveries(status=status, workflow_id=workflow_id, limit=limit)

    async def forget_deliveries(self, retention_days: float, *, batch: int) -> int:
        """One batch of retention: deliveries delivered or given up, recorded more than ``retention_days`` ago."""
        cutoff = self._ctx.clock() - int(retention_days * DAY_MS)
        return await self._ctx.store.delete_deliveries_before(cutoff, batch)

    async def delivery(self, delivery_id: str) -> WebhookDelivery:
        found = await self._ctx.store.get_delivery(delivery_id)
        if found is None:
            raise NotFoundError(f"No webhook delivery {delivery_id}")
        return found

    async def delivery_body(self, delivery_id: str) -> str:
        """The exact body the delivery posts (and posted at each attempt)."""
        body = await self._ctx.store.delivery_body(delivery_id)
        if body is None:
            raise NotFoundError(f"No webhook delivery {delivery_id}")
        return body

    async def redeliver(self, delivery_id: str) -> WebhookDelivery:
        """Send a delivery again (failed, delivered, or pending and made due now), with a fresh retry window."""
        now = self._ctx.clock()
        store = self._ctx.store
        if not await store.redeliver(delivery_id, now, now + self._ctx.settings.webhook_retry_window_ms):
            raise NotFoundError(f"No webhook delivery {delivery_id}")
        self._ctx.notifier.publish([WAKE_KEY])
        return await self.delivery(delivery_id)


def _webhook_from(body: Any, *, default_id: str, now: int, current: Webhook | None) -> Webhook:
    """A server-wide subscription from a request body; ValidationError naming every field at fault."""
    if not isinstance(body, dict):
        raise ValidationError(errors=[FieldError("body", "must be an object with url and events")])
    errors = check_subscription(body, "")
    errors.extend(FieldError(key, "is not a webhook field") for key in body if key not in _WEBHOOK_FIELDS)
    webhook_id = body.get("id", default_id)
    if not isinstance(webhook_id, str) or (problem := name_problem(webhook_id)) is not None:
        errors.append(FieldError("id", "must be a string" if not isinstance(webhook_id, str) else str(problem)))
    elif webhook_id in _RESERVED_IDS:
        errors.append(FieldError("id", f"{webhook_id!r} is reserved"))
    enabled = body.get("enabled", True)
    if not isinstance(enabled, bool):
        errors.append(FieldError("enabled", "must be true or false"))
    if errors:
        raise ValidationError(errors=errors)
    secret = body.get("secret", current.secret if current is not None else None)
    return Webhook(
        id=webhook_id,
        url=body["url"],
        events=list(dict.fromkeys(body["events"])),
        secret=secret,
        enabled=enabled,
        created_at=current.created_at if current is not None else now,
        updated_at=now,
    )
