"""PostgreSQL's claims: a poll's one-statement claim, limited claims, and a decision's claim."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import asyncpg

from baton.engine.decision import Decision
from baton.model import Task
from baton.store.base import (
    ClaimLimits,
    ClaimRequest,
    DueTimer,
)
from baton.store.common import codec, plans
from baton.store.postgres import slices as pg_slices
from baton.store.postgres.connection import PostgresConnection
from baton.store.postgres.database import _translated
from baton.store.postgres.queries import (
    CLAIM_TASKS,
    COUNT_CLAIM_LEDGER,
    COUNT_QUEUED,
    COUNT_QUEUED_OF,
    INSERT_CLAIM_LEDGER,
    LOCK_CLAIM_LIMIT,
    PICK_FOR_CLAIM,
    REWRITE_CLAIMED,
    SELECT_DUE_TIMERS,
)

_Claimed = tuple[Task, int]
"""A claimed task and its row's version after the claim."""


def _decode_claimed(rows: Iterable[Sequence[Any]]) -> list[_Claimed]:
    """``(body, row_version)`` rows of a claim, decoded."""
    return [(codec.decode_task(body), version) for body, version in rows]


def _claim_nothing(decision: Decision) -> ClaimRequest | None:
    return None


def _claim_request(request: ClaimRequest | None) -> ClaimRequest | None:
    """None for a request that asks for nothing."""
    return request if request is not None and request.count > 0 else None


def _claim_args(request: ClaimRequest) -> tuple[str, int, int, str | None]:
    """CLAIM_TASKS's parameters."""
    return request.task_type, request.now, request.count, request.worker_id


def _has_more_statements(plan: plans.WritePlan) -> bool:
    """Whether the decision writes more than WRITE_DECISION does (removed tasks, a new definition, log lines,
    signals to other runs, the later slices of a large plan).

    Those statements follow WRITE_DECISION in one transaction, and a claim then
    comes after them (WRITE_DECISION's own could take a task being removed).
    """
    return bool(
        plan.task_deletes
        or plan.snapshot is not None
        or plan.log_inserts
        or plan.outbox_inserts
        or pg_slices.is_sliced(plan)
    )


def _claims_inline(plan: plans.WritePlan, request: ClaimRequest | None) -> bool:
    """Whether WRITE_DECISION can carry the decision's claim (or there is none): no other statement follows it,
    the decision queues nothing the claim could take, and the claim has no limits (those take a lock and a
    ledger)."""
    return _claims_first_inline(plan, request) and (request is None or not _queues_claimable(plan, request))


def _claims_first_inline(plan: plans.WritePlan, request: ClaimRequest | None) -> bool:
    """Whether WRITE_DECISION can carry the decision's claim of the tasks queued before it: as ``_claims_inline``,
    but the decision may queue tasks the claim could take (a claim after it, if it comes up short, takes them)."""
    if _has_more_statements(plan):
        return False
    return request is None or request.limits is None


def _queues_claimable(plan: plans.WritePlan, request: ClaimRequest) -> bool:
    """Whether the decision queues a task the claim could take: WRITE_DECISION's claim cannot see it."""
    return any(
        task_type == request.task_type and visible_at <= request.now
        for _, task_type, _, visible_at in plan.queue_upserts
    )


class PostgresClaims(PostgresConnection):
    """Hands out queued tasks; keeps the copies of runs up to the claims."""

    # -- queue and timers ------------------------------------------------------------

    async def claim_tasks(
        self, task_type: str, *, worker_id: str | None, count: int, now: int, limits: ClaimLimits | None = None
    ) -> list[Task]:
        if count <= 0:
            return []
        request = ClaimRequest(task_type, worker_id, count, now)
        try:
            with _translated("claim tasks"):
                async with self._claim_connection() as conn:
                    if limits is not None:
                        async with conn.transaction():
                            claimed = await self._claim_within(conn, request, limits)
                    else:
                        try:
                            claimed = _decode_claimed(await conn.fetch(CLAIM_TASKS, *_claim_args(request)))
                        except asyncpg.DataError:
                            claimed = await self._claim_in_python(conn, request)
        except BaseException:
            self._known.clear()  # a copy may hold a claim that was rolled back
            raise
        return self._note_claims(claimed)

    @classmethod
    async def _claim_within(
        cls, conn: asyncpg.Connection, request: ClaimRequest, limits: ClaimLimits
    ) -> list[_Claimed]:
        """A claim within ``limits``, in the caller's transaction: only for types that have limits.

        The type's advisory lock serialises its limited claims across processes
        until the transaction ends; the count after it sees all they committed.
        """
        task_type, now = request.task_type, request.now
        await conn.execute(LOCK_CLAIM_LIMIT, task_type)
        in_progress, in_window = await conn.fetchrow(COUNT_CLAIM_LEDGER, task_type, now - limits.window_ms)
        allowed = limits.allowed(request.count, in_progress=in_progress, in_window=in_window)
        if allowed <= 0:
            return []
        claimed = await cls._claim_in_python(conn, dataclasses.replace(request, count=allowed))
        if claimed:
            await conn.execute(INSERT_CLAIM_LEDGER, task_type, now, [task.task_id for task, _ in claimed])
        return claimed

    @staticmethod
    async def _claim_in_python(conn: asyncpg.Connection, request: ClaimRequest) -> list[_Claimed]:
        """The same claim, with the bodies rewritten by ``plans.claimed``: for what PostgreSQL's JSON refuses."""
        async with conn.transaction():
            rows = await conn.fetch(PICK_FOR_CLAIM, request.task_type, request.now, request.count)
            claimed = [
                (plans.claimed(codec.decode_task(body), worker_id=request.worker_id, now=request.now), version + 1)
                for body, version in rows
            ]
            if claimed:
                rewritten = plans.columns(
                    [plans.claim_update_row(task) for task, _ in claimed], len(plans.CLAIM_UPDATE_COLUMNS)
                )
                await conn.execute(REWRITE_CLAIMED, *rewritten)
        return claimed

    async def queue_sizes(self, task_types: Collection[str] | None = None) -> dict[str, int]:
        if task_types is None:
            rows = await self._fetchall("count queued tasks", COUNT_QUEUED)
            return {task_type: n for task_type, n in rows}
        sizes = dict.fromkeys(task_types, 0)
        if sizes:
            rows = await self._fetchall("count queued tasks", COUNT_QUEUED_OF, list(sizes))
            sizes.update({task_type: n for task_type, n in rows})
        return sizes

    async def due_timers(self, now: int, limit: int) -> list[DueTimer]:
        rows = await self._fetchall("read due timers", SELECT_DUE_TIMERS, now, limit)
        return [DueTimer(workflow_id=workflow_id, task_id=task_id) for workflow_id, task_id, _ in rows]

    def _note_claims(self, claimed: list[_Claimed]) -> list[Task]:
        """Bring the copies of the claimed tasks' runs up to the claims; the claimed tasks."""
        for task, version in claimed:
            known = self._known.peek(task.workflow_instance_id)
            if known is not None and not known.tasks.claimed(task, version - 1):
                self._known.forget(task.workflow_instance_id)
        return [task for task, _ in claimed]

    async def _claim_rest(self, conn: asyncpg.Connection, request: ClaimRequest, claimed: int) -> list[_Claimed]:
        """After a decision whose own claim took ``claimed`` of the tasks queued before it, the rest of its count
        from the queue as the decision left it: its own new tasks among them."""
        rest = dataclasses.replace(request, count=request.count - claimed)
        try:
            return _decode_claimed(await conn.fetch(CLAIM_TASKS, *_claim_args(rest)))
        except asyncpg.DataError:
            return await self._claim_in_python(conn, rest)

    async def _claim_after_writes(
        self, conn: asyncpg.Connection, request: ClaimRequest, *, in_python: bool
    ) -> list[_Claimed]:
        """The claim of a decision that could not carry it in WRITE_DECISION, in the decision's transaction."""
        if request.limits is not None:
            return await self._claim_within(conn, request, request.limits)
        if in_python:
            return await self._claim_in_python(conn, request)
        return _decode_claimed(await conn.fetch(CLAIM_TASKS, *_claim_args(request)))
