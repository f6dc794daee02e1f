"""Idempotency keys: what a start does when its key is already held, written once for both stores."""

from __future__ import annotations

from enum import Enum

from baton.errors import ConflictError, StoreError
from baton.model import IdempotencyStrategy, WorkflowStatus
from baton.store.common.database import Executor
from baton.store.common.dialect import Dialect, per_dialect

TAKE_IDEMPOTENCY_KEY = per_dialect(
    "INSERT INTO idempotency_keys (key, workflow_id) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"
)
LOCK_KEY_HOLDER = per_dialect(lambda d: f"SELECT workflow_id FROM idempotency_keys WHERE key = $1{d.lock_rows}")
"""On PostgreSQL it waits out a concurrent takeover; SQLite's single writer has the row already."""
SELECT_RUN_STATUS = per_dialect("SELECT status FROM runs WHERE workflow_id = $1")
MOVE_IDEMPOTENCY_KEY = per_dialect("UPDATE idempotency_keys SET workflow_id = $1 WHERE key = $2")

_MAX_KEY_ATTEMPTS = 10


class KeyOutcome(Enum):
    """What ``create_run`` does when the idempotency key is already held by a run."""

    RETURN_EXISTING = "return_existing"
    REFUSE = "refuse"
    TAKE_OVER = "take_over"
    """Create the new run and move the key to it."""


def resolve_key_conflict(strategy: IdempotencyStrategy | None, holder_status: WorkflowStatus) -> KeyOutcome:
    if strategy is None or strategy is IdempotencyStrategy.RETURN_EXISTING:
        return KeyOutcome.RETURN_EXISTING
    if strategy is IdempotencyStrategy.FAIL:
        return KeyOutcome.REFUSE
    if holder_status in (WorkflowStatus.RUNNING, WorkflowStatus.PAUSED):
        return KeyOutcome.REFUSE
    return KeyOutcome.TAKE_OVER


def key_conflict_message(key: str, holder: str) -> str:
    return f"Idempotency key {key!r} is already used by workflow {holder}"


async def take_key(
    tx: Executor, dialect: Dialect, key: str, workflow_id: str, strategy: IdempotencyStrategy | None
) -> str | None:
    """Give the key to ``workflow_id``, or the id of the run to return instead; ConflictError per strategy.

    In the start's transaction. A holder that vanishes between two statements (its
    run deleted meanwhile) sends it round again: each statement sees what committed
    before it began.
    """
    for _ in range(_MAX_KEY_ATTEMPTS):
        if await tx.execute(TAKE_IDEMPOTENCY_KEY[dialect], key, workflow_id) == 1:
            return None
        # Held by a committed run: lock the key row (waiting out a concurrent takeover),
        # then read its holder's status in a new statement, which sees that takeover's run.
        holder_row = await tx.fetchone(LOCK_KEY_HOLDER[dialect], key)
        if holder_row is None:
            continue
        holder: str = holder_row[0]
        status_row = await tx.fetchone(SELECT_RUN_STATUS[dialect], holder)
        if status_row is None:
            continue
        outcome = resolve_key_conflict(strategy, WorkflowStatus(status_row[0]))
        if outcome is KeyOutcome.RETURN_EXISTING:
            return holder
        if outcome is KeyOutcome.REFUSE:
            raise ConflictError(key_conflict_message(key, holder))
        await tx.execute(MOVE_IDEMPOTENCY_KEY[dialect], workflow_id, key)
        return None
    raise StoreError(f"Could not settle idempotency key {key!r}")
