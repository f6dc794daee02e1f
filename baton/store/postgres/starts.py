"""PostgreSQL's starts: a new run's rows in one statement, its idempotency key first."""

from __future__ import annotations

import asyncpg

from baton.engine.decision import Decision
from baton.errors import ConflictError, StoreError
from baton.model import IdempotencyStrategy, WorkflowDef, WorkflowStatus
from baton.store.base import (
    StartResult,
)
from baton.store.common import keys, plans
from baton.store.common.run_cache import CachedRun, KnownRun
from baton.store.postgres import slices as pg_slices
from baton.store.postgres.connection import _MAX_ATTEMPTS, PostgresConnection, _args, _rowcount, _translated
from baton.store.postgres.params import _new_run_params
from baton.store.postgres.queries import (
    CREATE_RUN,
    CREATE_RUN_ARGS,
    INSERT_SIGNAL,
    LOCK_KEY_HOLDER,
    MOVE_IDEMPOTENCY_KEY,
    RUNS_PRIMARY_KEY,
    SELECT_RUN_STATUS,
    TAKE_IDEMPOTENCY_KEY,
)


class _KeyMoved(Exception):
    """The idempotency key's holder vanished between two statements; start over."""


class PostgresStarts(PostgresConnection):
    """``create_run``."""

    async def create_run(
        self,
        decision: Decision,
        definition: WorkflowDef,
        *,
        idempotency_strategy: IdempotencyStrategy | None = None,
    ) -> StartResult:
        run = decision.workflow
        digest, snapshot_body = self._snapshots.snapshot_of(definition)
        plan = await plans.plan_new_run_in_turns(decision) if plans.is_large(decision) else plans.plan_new_run(decision)
        head, tails = pg_slices.split(plan)
        params = _new_run_params(run, head, digest, definition)
        if not self._snapshots.is_stored(digest):
            params["snapshot_body"] = snapshot_body
        args = _args(CREATE_RUN_ARGS, params)
        key = run.idempotency_key
        with _translated("create a run"):
            async with self._decision_connection() as conn:
                for _ in range(_MAX_ATTEMPTS):
                    try:
                        if key or plan.outbox_inserts or tails:
                            async with conn.transaction():
                                if key:
                                    holder = await self._take_key(conn, key, run.workflow_id, idempotency_strategy)
                                    if holder is not None:
                                        return StartResult(workflow_id=holder, created=False)
                                await conn.execute(CREATE_RUN, *args)
                                await pg_slices.write_tails(conn, tails)
                                if plan.outbox_inserts:
                                    await conn.executemany(INSERT_SIGNAL, plan.outbox_inserts)
                        else:
                            await conn.execute(CREATE_RUN, *args)
                    except _KeyMoved:
                        continue
                    except asyncpg.UniqueViolationError as exc:
                        if exc.constraint_name == RUNS_PRIMARY_KEY:
                            raise ConflictError(f"Workflow {run.workflow_id} already exists") from exc
                        raise
                    self._snapshots.mark_stored(digest)
                    self._remember_new_run(decision, digest, plan)
                    return StartResult(workflow_id=run.workflow_id, created=True)
        raise StoreError(f"Could not settle idempotency key {key!r}")

    def _remember_new_run(self, decision: Decision, digest: str, plan: plans.WritePlan) -> None:
        """Its first decision then needs no read: the run's row and its tasks' are at version 0."""
        tasks = CachedRun.of([], [])
        tasks.apply(decision, plans.written_sizes(plan))
        run = decision.workflow
        self._known.put(run.workflow_id, KnownRun(row_version=0, digest=digest, header=run, tasks=tasks))

    @staticmethod
    async def _take_key(
        conn: asyncpg.Connection,
        key: str,
        workflow_id: str,
        strategy: IdempotencyStrategy | None,
    ) -> str | None:
        """Give the key to ``workflow_id``, or the id of the run to return instead; ConflictError per strategy."""
        if _rowcount(await conn.execute(TAKE_IDEMPOTENCY_KEY, key, workflow_id)) == 1:
            return None
        # Held by a committed run: lock the key row (waiting out a concurrent takeover),
        # then read its holder's status in a new statement, which sees that takeover's run.
        holder_row = await conn.fetchrow(LOCK_KEY_HOLDER, key)
        if holder_row is None:
            raise _KeyMoved
        holder: str = holder_row[0]
        status_row = await conn.fetchrow(SELECT_RUN_STATUS, holder)
        if status_row is None:
            raise _KeyMoved
        outcome = keys.resolve_key_conflict(strategy, WorkflowStatus(status_row[0]))
        if outcome is keys.KeyOutcome.RETURN_EXISTING:
            return holder
        if outcome is keys.KeyOutcome.REFUSE:
            raise ConflictError(keys.key_conflict_message(key, holder))
        await conn.execute(MOVE_IDEMPOTENCY_KEY, workflow_id, key)
        return None
