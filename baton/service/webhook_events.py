"""One webhook event as it goes on the wire: Ballerine's body, its exact bytes, and their signature.

The body is fixed when the event is recorded (its bytes and signature are stored), so every attempt and every
redelivery sends the same bytes under the same ``id``: a receiver can check the signature on what it got and
drop what it has already seen.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import msgspec

from baton import __version__
from baton.config import Settings
from baton.model import Workflow, WorkflowStatus
from baton.model.webhooks import Webhook
from baton.store.webhook_records import NewDelivery

UNSIGNED: Final = "UNSIGNED"
"""The signature header's value when there is no secret, as Ballerine sends it."""

_encoder = msgspec.json.Encoder()

_BALLERINE_STATUS: Final = {
    WorkflowStatus.COMPLETED: "completed",
    WorkflowStatus.FAILED: "failed",
    WorkflowStatus.TIMED_OUT: "failed",
    WorkflowStatus.TERMINATED: "failed",
}


def iso_time(epoch_ms: int) -> str:
    """Epoch milliseconds as JavaScript's ``toISOString`` writes them (``2026-12-06T08:00:00.000Z``)."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def entity_id(run: Workflow) -> str | None:
    """Ballerine's ``ballerineEntityId``: Baton's id for the run's entity (``context.entity.ballerineEntityId``,
    set by ``/api/v1/external/workflows/run``), else the caller's ``entity.id``, if any."""
    entity = run.input.get("entity")
    if isinstance(entity, dict):
        value = entity.get("ballerineEntityId") or entity.get("id")
        if isinstance(value, str | int) and not isinstance(value, bool):
            return str(value)
    return None


def run_context(run: Workflow) -> dict[str, Any]:
    """What a run's events carry as ``data`` by default: its input with its output laid over it."""
    return {**run.input, **run.output}


def end_fields(run: Workflow) -> dict[str, Any]:
    """What ``workflow.completed`` adds: Ballerine's ``workflowStatus`` (``completed`` or ``failed``) and, as the
    final state, Baton's own status in lower case (``completed``, ``failed``, ``timed_out``, ``terminated``)."""
    fields: dict[str, Any] = {
        "workflowStatus": _BALLERINE_STATUS.get(run.status, run.status.value.lower()),
        "workflowFinalState": run.status.value.lower(),
    }
    if run.reason_for_incompletion:
        fields["reasonForIncompletion"] = run.reason_for_incompletion
    return fields


def event_body(
    *,
    event_id: str,
    event_name: str,
    run: Workflow,
    data: Any,
    now: int,
    environment: str,
    extra: Mapping[str, Any] | None = None,
) -> bytes:
    """The POST's exact bytes: Ballerine's fields, then ``extra`` (an event's own, such as ``state``)."""
    body: dict[str, Any] = {
        "id": event_id,
        "eventName": event_name,
        "apiVersion": __version__,
        "timestamp": iso_time(now),
        "workflowCreatedAt": iso_time(run.create_time),
        "workflowResolvedAt": iso_time(run.end_time) if run.end_time else None,
        "workflowRuntimeId": run.workflow_id,
        "workflowDefinitionId": run.workflow_name,
        "workflowDefinitionVersion": run.workflow_version,
        "ballerineEntityId": entity_id(run),
        "correlationId": run.correlation_id,
        "environment": environment,
    }
    if extra:
        body.update({key: value for key, value in extra.items() if key not in body})
    body["data"] = data
    return _encoder.encode(body)


def sign(body: bytes, secret: str | None) -> str:
    """Lowercase hex HMAC-SHA256 of the exact bytes with ``secret``; ``UNSIGNED`` without one."""
    if not secret:
        return UNSIGNED
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Subscriber:
    """Where a run's events go: one of its own subscriptions (``run:<index>``) or a server-wide one
    (``webhook:<id>``), the events it wants and the secret it signs with (None: the server's)."""

    subscription: str
    url: str
    events: frozenset[str]
    secret: str | None


def subscribers_of(own: list[dict[str, Any]], hooks: list[Webhook]) -> list[Subscriber]:
    """A run's own subscriptions, then the enabled server-wide ones."""
    found = [
        Subscriber(
            subscription=f"run:{index}",
            url=sub["url"],
            events=frozenset(sub.get("events", ())),
            secret=sub.get("secret"),
        )
        for index, sub in enumerate(own)
    ]
    found.extend(
        Subscriber(subscription=f"webhook:{hook.id}", url=hook.url, events=frozenset(hook.events), secret=hook.secret)
        for hook in hooks
        if hook.enabled
    )
    return found


def deliveries_for(
    subscribers: list[Subscriber],
    *,
    run: Workflow,
    event_name: str,
    data: Any,
    event_key: str,
    extra: Mapping[str, Any] | None,
    now: int,
    settings: Settings,
    new_id: Callable[[], str],
) -> list[NewDelivery]:
    """One delivery of the event for each subscriber that wants it, its body and signature fixed."""
    deliveries = []
    for subscriber in subscribers:
        if event_name not in subscriber.events:
            continue
        delivery_id = new_id()
        body = event_body(
            event_id=delivery_id,
            event_name=event_name,
            run=run,
            data=data,
            now=now,
            environment=settings.webhook_environment,
            extra=extra,
        )
        deliveries.append(
            NewDelivery(
                delivery_id=delivery_id,
                event_key=event_key,
                subscription=subscriber.subscription,
                workflow_id=run.workflow_id,
                event_name=event_name,
                url=subscriber.url,
                body=body.decode(),
                signature=sign(body, subscriber.secret or settings.webhook_secret),
                created_at=now,
                give_up_at=now + settings.webhook_retry_window_ms,
            )
        )
    return deliveries
