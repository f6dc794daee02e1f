"""Outgoing webhooks on the wire: subscriptions (server-wide or a run's own) and the record of each delivery.

The event names are Ballerine's three. A subscription is checked here (``check_subscription``), so the
server-wide routes and a run's ``config.subscriptions`` take the same rules: an http(s) URL with a host, a
non-empty list of known event names, an optional non-empty secret; each mistake names its field.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, Final
from urllib.parse import urlsplit

import msgspec

from baton.errors import FieldError, ValidationError

WORKFLOW_COMPLETED: Final = "workflow.completed"
WORKFLOW_STATE_CHANGED: Final = "workflow.state.changed"
WORKFLOW_DOCUMENT_CHANGED: Final = "workflow.context.document.changed"
EVENT_NAMES: Final = (WORKFLOW_COMPLETED, WORKFLOW_STATE_CHANGED, WORKFLOW_DOCUMENT_CHANGED)
MAX_URL_LENGTH: Final = 2048
MAX_SECRET_LENGTH: Final = 1024


class DeliveryStatus(str, Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class Webhook(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """A server-wide subscription: every run's events of these names are posted to ``url``."""

    id: str
    url: str
    events: list[str]
    secret: str | None = None
    """Signs its deliveries instead of ``BATON_WEBHOOK_SECRET``; never sent back by the API."""
    enabled: bool = True
    created_at: int = 0
    updated_at: int = 0


class Subscription(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """A run's own subscription, as Ballerine's ``config.subscriptions`` holds it."""

    url: str
    events: list[str]
    type: str = "webhook"
    secret: str | None = None


class DeliveryAttempt(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    attempt: int
    at: int
    duration_ms: int
    status_code: int | None = None
    error: str | None = None


class WebhookDelivery(msgspec.Struct, rename="camel", kw_only=True):
    """One event for one subscription, and every attempt to deliver it (newest record first in lists)."""

    id: str
    event_name: str
    workflow_runtime_id: str
    subscription: str
    """``webhook:<id>`` for a server-wide subscription, ``run:<n>`` for the run's n-th own one."""
    url: str
    status: DeliveryStatus
    created_at: int
    next_attempt_at: int | None
    give_up_at: int
    delivered_at: int | None
    attempts: list[DeliveryAttempt]
    last_status_code: int | None = None
    last_error: str | None = None


def check_subscription(value: Any, path: str, *, require_type: bool = False) -> list[FieldError]:
    """What is wrong with a subscription's ``url``, ``events`` and ``secret`` (and ``type`` when required)."""
    errors: list[FieldError] = []
    if not isinstance(value, dict):
        return [FieldError(path or "body", "must be an object")]
    prefix = f"{path}." if path else ""
    if require_type and value.get("type") != "webhook":
        errors.append(FieldError(f"{prefix}type", "must be 'webhook'"))
    url = value.get("url")
    if not isinstance(url, str) or not url:
        errors.append(FieldError(f"{prefix}url", "is required: an http:// or https:// URL"))
    elif len(url) > MAX_URL_LENGTH:
        errors.append(FieldError(f"{prefix}url", f"must be at most {MAX_URL_LENGTH} characters"))
    else:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors.append(FieldError(f"{prefix}url", f"must be an http:// or https:// URL with a host, not {url!r}"))
    events = value.get("events")
    if not isinstance(events, list) or not events:
        errors.append(FieldError(f"{prefix}events", f"must be a non-empty list of: {', '.join(EVENT_NAMES)}"))
    else:
        for index, name in enumerate(events):
            if name not in EVENT_NAMES:
                errors.append(
                    FieldError(f"{prefix}events[{index}]", f"{name!r} is not one of: {', '.join(EVENT_NAMES)}")
                )
    secret = value.get("secret")
    if secret is not None and (not isinstance(secret, str) or not secret or len(secret) > MAX_SECRET_LENGTH):
        errors.append(FieldError(f"{prefix}secret", f"must be a non-empty string of at most {MAX_SECRET_LENGTH}"))
    return errors


def parse_run_subscriptions(value: Any, path: str = "config.subscriptions") -> list[Subscription]:
    """A run's ``config.subscriptions`` as subscriptions; ValidationError naming every field at fault."""
    if not isinstance(value, list):
        raise ValidationError(errors=[FieldError(path, "must be a list of subscriptions")])
    errors: list[FieldError] = []
    for index, item in enumerate(value):
        errors.extend(check_subscription(item, f"{path}[{index}]", require_type=True))
        if isinstance(item, dict):
            for key in item:
                if key not in ("type", "url", "events", "secret"):
                    errors.append(FieldError(f"{path}[{index}].{key}", "is not a subscription field"))
    if errors:
        raise ValidationError(errors=errors)
    return [
        Subscription(url=item["url"], events=list(dict.fromkeys(item["events"])), secret=item.get("secret"))
        for item in value
    ]
