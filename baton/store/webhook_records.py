"""What the webhook store takes and hands back beside the wire structs of ``model.webhooks``."""

from __future__ import annotations

from dataclasses import dataclass

from baton.model.webhooks import DeliveryAttempt, DeliveryStatus


@dataclass(frozen=True, kw_only=True)
class NewDelivery:
    """One event for one subscription, its body and signature fixed: recorded once per (event_key, subscription)."""

    delivery_id: str
    event_key: str
    subscription: str
    workflow_id: str
    event_name: str
    url: str
    body: str
    signature: str
    created_at: int
    give_up_at: int


@dataclass(frozen=True, kw_only=True)
class ClaimedDelivery:
    """A delivery leased to one sender until ``lease_until``: ``attempt`` is this attempt's number."""

    delivery_id: str
    url: str
    body: str
    signature: str
    attempt: int
    give_up_at: int
    token: str


@dataclass(frozen=True, kw_only=True)
class AttemptOutcome:
    """How an attempt ended and what the delivery becomes: delivered, pending again at ``next_attempt_at``, failed."""

    attempt: DeliveryAttempt
    status: DeliveryStatus
    next_attempt_at: int


@dataclass(frozen=True, kw_only=True)
class ToldState:
    """What the webhooks last told of a run: its state and its documents' decisions (id -> status); ``version``
    counts the changes told (a change is recorded over the version it was computed from)."""

    version: int
    state: str | None
    documents: dict[str, str]
