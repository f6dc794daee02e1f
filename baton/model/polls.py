"""Conductor's ``PollData``: when a worker last polled a task type's queue (``GET /api/tasks/queue/polldata``)."""

from __future__ import annotations

import msgspec


class PollData(msgspec.Struct, rename="camel", kw_only=True):
    """The last poll of one worker for one task type (``queueName``) in one domain (null: none given)."""

    queue_name: str
    domain: str | None = None
    worker_id: str | None = None
    last_poll_time: int = 0
