"""Outgoing webhooks, written once for both stores: subscriptions, deliveries and their attempts.

A delivery is claimed like a queued task: a lease (``lease_until``) and a claim token, so several servers on one
PostgreSQL never send one attempt at once (``FOR UPDATE SKIP LOCKED``; SQLite has one writer). Only the head of a
run's chain to one subscription (its oldest pending delivery) can be claimed, so a run's events reach each
subscriber in order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from baton.errors import ConflictError
from baton.model.webhooks import DeliveryAttempt, DeliveryStatus, Webhook, WebhookDelivery
from baton.store.common.database import Database, Row
from baton.store.common.dialect import Dialect, per_dialect
from baton.store.webhook_records import AttemptOutcome, ClaimedDelivery, NewDelivery, ToldState

_WEBHOOK_COLUMNS = "webhook_id, url, events, secret, enabled, created_at, updated_at"
INSERT_WEBHOOK = per_dialect(f"""
INSERT INTO webhooks ({_WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (webhook_id) DO NOTHING""")
UPDATE_WEBHOOK = per_dialect("""
UPDATE webhooks SET url = $2, events = $3, secret = $4, enabled = $5, updated_at = $6 WHERE webhook_id = $1""")
SELECT_WEBHOOK = per_dialect(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks WHERE webhook_id = $1")
SELECT_WEBHOOKS = per_dialect(f"SELECT {_WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, webhook_id")
DELETE_WEBHOOK = per_dialect("DELETE FROM webhooks WHERE webhook_id = $1")

SELECT_RUN_EXISTS = per_dialect("SELECT 1 FROM runs WHERE workflow_id = $1")
UPSERT_RUN_SUBSCRIPTIONS = per_dialect("""
INSERT INTO webhook_run_subscriptions (workflow_id, subscriptions, watching, created_at) VALUES ($1, $2, TRUE, $3)
ON CONFLICT (workflow_id) DO UPDATE SET subscriptions = excluded.subscriptions, watching = TRUE""")
SELECT_RUN_SUBSCRIPTIONS = per_dialect("SELECT subscriptions FROM webhook_run_subscriptions WHERE workflow_id = $1")
_ENDED = "('COMPLETED', 'FAILED', 'TIMED_OUT', 'TERMINATED')"
SELECT_WATCHED_RUNNING = per_dialect(f"""
SELECT s.workflow_id FROM webhook_run_subscriptions s JOIN runs r ON r.workflow_id = s.workflow_id
WHERE s.watching AND r.status NOT IN {_ENDED} LIMIT $1""")
SELECT_WATCHED_ENDED = per_dialect(f"""
SELECT s.workflow_id FROM webhook_run_subscriptions s
WHERE s.watching AND EXISTS (
    SELECT 1 FROM runs r WHERE r.workflow_id = s.workflow_id AND r.status IN {_ENDED} AND r.end_time <= $1)
LIMIT $2""")
"""Read from the watched runs' side, a run at a time (a join let SQLite scan every ended run instead: half a
second's stall of the loop, every catch-up, in a file of 300,000)."""
SELECT_TOLD_STATE = per_dialect("SELECT version, state, documents FROM webhook_run_states WHERE workflow_id = $1")
INSERT_TOLD_STATE = per_dialect("""
INSERT INTO webhook_run_states (workflow_id, version, state, documents, updated_at)
SELECT CAST($1 AS TEXT), 1, CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS BIGINT)
WHERE EXISTS (SELECT 1 FROM runs WHERE workflow_id = $1)
ON CONFLICT (workflow_id) DO NOTHING""")
UPDATE_TOLD_STATE = per_dialect("""
UPDATE webhook_run_states SET version = version + 1, state = $3, documents = $4, updated_at = $5
WHERE workflow_id = $1 AND version = $2""")
STOP_WATCHING = per_dialect("UPDATE webhook_run_subscriptions SET watching = FALSE WHERE workflow_id = $1")

INSERT_DELIVERY = per_dialect("""
INSERT INTO webhook_deliveries (delivery_id, event_key, subscription, workflow_id, event_name, url, body, signature,
    status, created_at, next_attempt_at, give_up_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', $9, $9, $10)
ON CONFLICT (event_key, subscription) DO NOTHING""")


def _claim(dialect: Dialect) -> str:
    skip_locked = " FOR UPDATE OF d SKIP LOCKED" if dialect is Dialect.POSTGRES else ""
    return f"""
UPDATE webhook_deliveries SET lease_until = $2, claim_token = $3, attempts = attempts + 1
WHERE seq IN (
    SELECT d.seq FROM webhook_deliveries d
    WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND d.lease_until <= $1
      AND NOT EXISTS (
        SELECT 1 FROM webhook_deliveries e
        WHERE e.status = 'pending' AND e.workflow_id = d.workflow_id AND e.subscription = d.subscription
          AND e.seq < d.seq)
    ORDER BY d.next_attempt_at, d.seq LIMIT $4{skip_locked}
)
RETURNING delivery_id, url, body, signature, attempts, give_up_at"""


CLAIM_DELIVERIES = per_dialect(_claim)
INSERT_ATTEMPT = per_dialect("""
INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error, duration_ms) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (delivery_id, attempt) DO NOTHING""")
FINISH_ATTEMPT = per_dialect("""
UPDATE webhook_deliveries SET status = $3, next_attempt_at = $4, lease_until = 0, claim_token = NULL,
    last_status_code = $5, last_error = $6, delivered_at = $7
WHERE delivery_id = $1 AND claim_token = $2""")
REDELIVER = per_dialect("""
UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $2, give_up_at = $3, delivered_at = NULL
WHERE delivery_id = $1 AND lease_until <= $2""")
SELECT_DELIVERY_EXISTS = per_dialect("SELECT 1 FROM webhook_deliveries WHERE delivery_id = $1")
DELETE_DELIVERIES_BEFORE = per_dialect("""
DELETE FROM webhook_deliveries WHERE seq IN (
    SELECT seq FROM webhook_deliveries WHERE created_at < $1 AND status <> 'pending' ORDER BY created_at LIMIT $2
)""")

_DELIVERY_COLUMNS = """delivery_id, event_name, workflow_id, subscription, url, status, created_at, next_attempt_at,
    give_up_at, delivered_at, last_status_code, last_error"""


def _list_deliveries(by_status: bool, by_run: bool) -> dict[Dialect, str]:
    """The list's statement: its filters' parameters first (status, then run), the limit last."""
    conditions: list[str] = []
    if by_status:
        conditions.append(f"status = ${len(conditions) + 1}")
    if by_run:
        conditions.append(f"workflow_id = ${len(conditions) + 1}")
    where = f"WHERE {' AND '.join(conditions)} " if conditions else ""
    return per_dialect(
        f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries {where}ORDER BY seq DESC LIMIT ${len(conditions) + 1}"
    )


LIST_DELIVERIES = {(s, r): _list_deliveries(s, r) for s in (False, True) for r in (False, True)}
SELECT_DELIVERY = per_dialect(f"SELECT {_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE delivery_id = $1")
SELECT_DELIVERY_BODY = per_dialect("SELECT body FROM webhook_deliveries WHERE delivery_id = $1")
SELECT_ATTEMPTS = per_dialect(
    lambda dialect: (
        f"""
SELECT delivery_id, attempt, at, status_code, error, duration_ms FROM webhook_attempts
WHERE delivery_id {dialect.one_of("$1", "text")} ORDER BY delivery_id, attempt"""
    )
)


class Webhooks:
    """``WebhookStore`` over the store's ``Database``."""

    _db: Database

    # -- server-wide subscriptions --

    async def create_webhook(self, webhook: Webhook) -> None:
        async with self._db.write_one("store a webhook") as tx:
            if await tx.execute(INSERT_WEBHOOK[self._db.dialect], *_webhook_row(webhook)) == 0:
                raise ConflictError(f"Webhook {webhook.id} already exists")

    async def update_webhook(self, webhook: Webhook) -> bool:
        async with self._db.write_one("update a webhook") as tx:
            webhook_id, url, events, secret, enabled, _, updated_at = _webhook_row(webhook)
            statement = UPDATE_WEBHOOK[self._db.dialect]
            return await tx.execute(statement, webhook_id, url, events, secret, enabled, updated_at) > 0

    async def get_webhook(self, webhook_id: str) -> Webhook | None:
        async with self._db.read("read a webhook") as tx:
            row = await tx.fetchone(SELECT_WEBHOOK[self._db.dialect], webhook_id)
        return None if row is None else _webhook(row)

    async def list_webhooks(self) -> list[Webhook]:
        async with self._db.read("list webhooks") as tx:
            rows = await tx.fetchall(SELECT_WEBHOOKS[self._db.dialect])
        return [_webhook(row) for row in rows]

    async def delete_webhook(self, webhook_id: str) -> bool:
        async with self._db.write_one("delete a webhook") as tx:
            return await tx.execute(DELETE_WEBHOOK[self._db.dialect], webhook_id) > 0

    # -- a run's own subscriptions --

    async def put_run_subscriptions(self, workflow_id: str, subscriptions: list[dict[str, Any]], now: int) -> bool:
        dialect = self._db.dialect
        async with self._db.write("store a run's webhook subscriptions") as tx:
            if await tx.fetchone(SELECT_RUN_EXISTS[dialect], workflow_id) is None:
                return False
            await tx.execute(UPSERT_RUN_SUBSCRIPTIONS[dialect], workflow_id, json.dumps(subscriptions), now)
        return True

    async def run_subscriptions(self, workflow_id: str) -> list[dict[str, Any]]:
        async with self._db.read("read a run's webhook subscriptions") as tx:
            row = await tx.fetchone(SELECT_RUN_SUBSCRIPTIONS[self._db.dialect], workflow_id)
        if row is None:
            return []
        subscriptions: list[dict[str, Any]] = json.loads(row[0])
        return subscriptions

    async def watched_running_runs(self, limit: int) -> list[str]:
        async with self._db.read("read the runs watched for webhooks") as tx:
            rows = await tx.fetchall(SELECT_WATCHED_RUNNING[self._db.dialect], limit)
        return [row[0] for row in rows]

    async def watched_ended_runs(self, ended_before: int, limit: int) -> list[str]:
        async with self._db.read("read the ended runs watched for webhooks") as tx:
            rows = await tx.fetchall(SELECT_WATCHED_ENDED[self._db.dialect], ended_before, limit)
        return [row[0] for row in rows]

    # -- what was last told of a run --

    async def told_state(self, workflow_id: str) -> ToldState | None:
        async with self._db.read("read what the webhooks told of a run") as tx:
            row = await tx.fetchone(SELECT_TOLD_STATE[self._db.dialect], workflow_id)
        if row is None:
            return None
        return ToldState(version=int(row[0]), state=row[1], documents=json.loads(row[2]))

    async def record_told_state(
        self,
        workflow_id: str,
        *,
        version: int,
        state: str | None,
        documents: dict[str, str],
        now: int,
        deliveries: Sequence[NewDelivery] = (),
    ) -> bool:
        dialect = self._db.dialect
        async with self._db.write("record what the webhooks tell of a run") as tx:
            if version == 0:
                written = await tx.execute(INSERT_TOLD_STATE[dialect], workflow_id, state, json.dumps(documents), now)
            else:
                written = await tx.execute(
                    UPDATE_TOLD_STATE[dialect], workflow_id, version, state, json.dumps(documents), now
                )
            if written == 0:
                return False
            if deliveries:
                await tx.executemany(INSERT_DELIVERY[dialect], [_delivery_row(d) for d in deliveries])
        return True

    # -- deliveries --

    async def record_deliveries(self, deliveries: Sequence[NewDelivery], *, stop_watching: str | None = None) -> None:
        dialect = self._db.dialect
        rows = [_delivery_row(d) for d in deliveries]
        async with self._db.write("record webhook deliveries") as tx:
            if rows:
                await tx.executemany(INSERT_DELIVERY[dialect], rows)
            if stop_watching is not None:
                await tx.execute(STOP_WATCHING[dialect], stop_watching)

    async def claim_deliveries(self, now: int, lease_until: int, token: str, limit: int) -> list[ClaimedDelivery]:
        async with self._db.write_one("claim webhook deliveries") as tx:
            rows = await tx.fetchall(CLAIM_DELIVERIES[self._db.dialect], now, lease_until, token, limit)
        return [
            ClaimedDelivery(
                delivery_id=row[0],
                url=row[1],
                body=row[2],
                signature=row[3],
                attempt=row[4],
                give_up_at=row[5],
                token=token,
            )
            for row in rows
        ]

    async def finish_attempt(self, claimed: ClaimedDelivery, outcome: AttemptOutcome) -> bool:
        dialect = self._db.dialect
        attempt = outcome.attempt
        delivered_at = attempt.at + attempt.duration_ms if outcome.status is DeliveryStatus.DELIVERED else None
        async with self._db.write("record a webhook attempt") as tx:
            await tx.execute(
                INSERT_ATTEMPT[dialect],
                claimed.delivery_id,
                attempt.attempt,
                attempt.at,
                attempt.status_code,
                attempt.error,
                attempt.duration_ms,
            )
            changed = await tx.execute(
                FINISH_ATTEMPT[dialect],
                claimed.delivery_id,
                claimed.token,
                outcome.status.value,
                outcome.next_attempt_at,
                attempt.status_code,
                attempt.error,
                delivered_at,
            )
        return changed > 0

    async def redeliver(self, delivery_id: str, now: int, give_up_at: int) -> bool:
        dialect = self._db.dialect
        async with self._db.write("redeliver a webhook") as tx:
            if await tx.fetchone(SELECT_DELIVERY_EXISTS[dialect], delivery_id) is None:
                return False
            if await tx.execute(REDELIVER[dialect], delivery_id, now, give_up_at) == 0:
                raise ConflictError(f"Delivery {delivery_id} is being attempted right now; try again when it ends")
        return True

    async def list_deliveries(
        self, *, status: DeliveryStatus | None, workflow_id: str | None, limit: int
    ) -> list[WebhookDelivery]:
        statement = LIST_DELIVERIES[(status is not None, workflow_id is not None)][self._db.dialect]
        async with self._db.read("list webhook deliveries") as tx:
            filters = [value for value in (None if status is None else status.value, workflow_id) if value is not None]
            rows = await tx.fetchall(statement, *filters, limit)
            attempts = await self._attempts(tx, [row[0] for row in rows])
        return [_delivery(row, attempts.get(row[0], [])) for row in rows]

    async def get_delivery(self, delivery_id: str) -> WebhookDelivery | None:
        async with self._db.read("read a webhook delivery") as tx:
            row = await tx.fetchone(SELECT_DELIVERY[self._db.dialect], delivery_id)
            if row is None:
                return None
            attempts = await self._attempts(tx, [delivery_id])
        return _delivery(row, attempts.get(delivery_id, []))

    async def delivery_body(self, delivery_id: str) -> str | None:
        async with self._db.read("read a webhook delivery's body") as tx:
            row = await tx.fetchone(SELECT_DELIVERY_BODY[self._db.dialect], delivery_id)
        return None if row is None else str(row[0])

    async def delete_deliveries_before(self, cutoff: int, limit: int) -> int:
        async with self._db.write_one("delete old webhook deliveries") as tx:
            return await tx.execute(DELETE_DELIVERIES_BEFORE[self._db.dialect], cutoff, limit)

    async def _attempts(self, tx: Any, delivery_ids: list[str]) -> dict[str, list[DeliveryAttempt]]:
        if not delivery_ids:
            return {}
        dialect = self._db.dialect
        rows = await tx.fetchall(SELECT_ATTEMPTS[dialect], dialect.list_value(delivery_ids))
        found: dict[str, list[DeliveryAttempt]] = {}
        for delivery_id, attempt, at, status_code, error, duration_ms in rows:
            found.setdefault(delivery_id, []).append(
                DeliveryAttempt(attempt=attempt, at=at, duration_ms=duration_ms, status_code=status_code, error=error)
            )
        return found


def _delivery_row(d: NewDelivery) -> tuple[str, str, str, str, str, str, str, str, int, int]:
    return (
        d.delivery_id,
        d.event_key,
        d.subscription,
        d.workflow_id,
        d.event_name,
        d.url,
        d.body,
        d.signature,
        d.created_at,
        d.give_up_at,
    )


def _webhook_row(webhook: Webhook) -> tuple[str, str, str, str | None, bool, int, int]:
    return (
        webhook.id,
        webhook.url,
        json.dumps(webhook.events),
        webhook.secret,
        webhook.enabled,
        webhook.created_at,
        webhook.updated_at,
    )


def _webhook(row: Row) -> Webhook:
    webhook_id, url, events, secret, enabled, created_at, updated_at = row
    return Webhook(
        id=webhook_id,
        url=url,
        events=json.loads(events),
        secret=secret,
        enabled=bool(enabled),
        created_at=created_at,
        updated_at=updated_at,
    )


def _delivery(row: Row, attempts: list[DeliveryAttempt]) -> WebhookDelivery:
    (
        delivery_id,
        event_name,
        workflow_id,
        subscription,
        url,
        status,
        created_at,
        next_attempt_at,
        give_up_at,
        delivered_at,
        last_status_code,
        last_error,
    ) = row
    pending = status == DeliveryStatus.PENDING.value
    return WebhookDelivery(
        id=delivery_id,
        event_name=event_name,
        workflow_runtime_id=workflow_id,
        subscription=subscription,
        url=url,
        status=DeliveryStatus(status),
        created_at=created_at,
        next_attempt_at=next_attempt_at if pending else None,
        give_up_at=give_up_at,
        delivered_at=delivered_at,
        attempts=attempts,
        last_status_code=last_status_code,
        last_error=last_error,
    )
