"""Idempotency keys: what a start does when its key is already held."""

from __future__ import annotations

from enum import Enum

from baton.model import (
    IdempotencyStrategy,
    WorkflowStatus,
)

# -- idempotency ---------------------------------------------------------------------


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
