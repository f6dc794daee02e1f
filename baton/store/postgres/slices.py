"""PostgreSQL: the rows of a large decision or start written as several statements of one transaction.

asyncpg encodes a statement's parameters on the event loop in one go: the bodies of
20,000 tasks (about 20 MB) held it for about 70 ms, and a dynamic fork's start or a
run's termination carries that many. A plan with more than ``SLICE_ROWS`` rows of
any kind is written as its first slice, by the usual statement (CREATE_RUN, or
WRITE_DECISION, which also writes the run row and checks and locks what the
decision read), then by one statement per kind and further slice, the loop free
between them. The later slices' updates keep WRITE_DECISION's guard: a task is
updated only while its status is still the one the decision read; a slice that
updates fewer rows than it holds means a claim came first, and ``SliceRefused``
rolls the whole transaction back, for the decision to be made again under the
run's lock.
"""

from __future__ import annotations

import dataclasses
from typing import Final

import asyncpg

from baton.store.common import plans

SLICE_ROWS: Final = 2000

UPDATE_TASK_SLICE: Final = """
UPDATE tasks t SET status = u.status, timer_at = u.timer_at, body = u.body, row_version = t.row_version + 1
FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[])
     AS u (status, timer_at, body, task_id, workflow_id, expected_status)
WHERE t.task_id = u.task_id AND t.workflow_id = u.workflow_id AND t.status = u.expected_status"""
INSERT_TASK_SLICE: Final = """
INSERT INTO tasks (task_id, workflow_id, seq, ref, task_type, status, timer_at, body)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[])"""
DEQUEUE_SLICE: Final = "DELETE FROM queue WHERE task_id = ANY($1::text[])"
UPSERT_QUEUE_SLICE: Final = """
INSERT INTO queue (task_id, task_type, priority, visible_at, response_timeout_seconds, poll_count)
SELECT * FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::bigint[])
ON CONFLICT (task_id) DO UPDATE SET
    task_type = excluded.task_type, priority = excluded.priority, visible_at = excluded.visible_at,
    response_timeout_seconds = excluded.response_timeout_seconds, poll_count = excluded.poll_count"""

_SLICED_FIELDS: Final = ("task_inserts", "task_updates", "queue_upserts", "queue_claim_fields", "queue_deletes")


class SliceRefused(Exception):
    """A later slice found a task no longer as the decision read it: roll everything back."""


def is_sliced(plan: plans.WritePlan) -> bool:
    return any(len(getattr(plan, name)) > SLICE_ROWS for name in _SLICED_FIELDS)


def split(plan: plans.WritePlan) -> tuple[plans.WritePlan, list[plans.WritePlan]]:
    """The plan's first slice (with everything not sliced), and the later slices' rows."""
    if not is_sliced(plan):
        return plan, []
    head = dataclasses.replace(plan, **{name: getattr(plan, name)[:SLICE_ROWS] for name in _SLICED_FIELDS})
    longest = max(len(getattr(plan, name)) for name in _SLICED_FIELDS)
    tails = [
        plans.WritePlan(**{name: getattr(plan, name)[start : start + SLICE_ROWS] for name in _SLICED_FIELDS})
        for start in range(SLICE_ROWS, longest, SLICE_ROWS)
    ]
    return head, tails


async def write_tails(conn: asyncpg.Connection, tails: list[plans.WritePlan]) -> None:
    """The later slices, in the caller's transaction (``SliceRefused`` if a guarded update finds a task moved)."""
    for tail in tails:
        if tail.task_updates:
            status = await conn.execute(UPDATE_TASK_SLICE, *plans.columns(tail.task_updates, 6))
            if int(status.rpartition(" ")[2]) != len(tail.task_updates):
                raise SliceRefused
        if tail.task_inserts:
            await conn.execute(INSERT_TASK_SLICE, *plans.columns(tail.task_inserts, 8))
        if tail.queue_deletes:
            await conn.execute(DEQUEUE_SLICE, [task_id for (task_id,) in tail.queue_deletes])
        if tail.queue_upserts:
            queue = plans.columns(tail.queue_upserts, 4) + plans.columns(tail.queue_claim_fields, 2)
            await conn.execute(UPSERT_QUEUE_SLICE, *queue)
