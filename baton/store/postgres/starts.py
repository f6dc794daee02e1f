"""PostgreSQL's starts: a new run's rows in one statement, its idempotency key first."""

from __future__ import annotations

import asyncpg

from baton.engine.decision import Decision
from baton.errors import ConflictError
from baton.model import IdempotencyStrategy, WorkflowDef
from baton.store.base import (
    StartResult,
)
from baton.store.common import keys, plans
from baton.store.common.dialect import Dialect
from baton.store.common.run_cache import CachedRun, KnownRun
from baton.store.postgres import slices as pg_slices
from baton.store.postgres.connection import PostgresConnection, _args
from baton.store.postgres.database import PostgresExecutor, _translated
from baton.store.postgres.params import _new_run_params
from baton.store.postgres.queries import (
    CREATE_RUN,
    CREATE_RUN_ARGS,
    INSERT_DECISION_LOGS,
    INSERT_SIGNAL,
    RUNS_PRIMARY_KEY,
)


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
                try:
                    if key or plan.outbox_inserts or plan.log_inserts or tails:
                        async with conn.transaction():
                            if key:
                                holder = await keys.take_key(
                                    PostgresExecutor(conn), Dialect.POSTGRES, key, run.workflow_id, idempotency_strategy
                                )
                                if holder is not None:
                                    return StartResult(workflow_id=holder, created=False)
                            await conn.execute(CREATE_RUN, *args)
                            await pg_slices.write_tails(conn, tails)
                            if plan.log_inserts:
                                await conn.execute(INSERT_DECISION_LOGS, *plans.columns(plan.log_inserts, 3))
                            if plan.outbox_inserts:
                                await conn.executemany(INSERT_SIGNAL, plan.outbox_inserts)
                    else:
                        await conn.execute(CREATE_RUN, *args)
                except asyncpg.UniqueViolationError as exc:
                    if exc.constraint_name == RUNS_PRIMARY_KEY:
                        raise ConflictError(f"Workflow {run.workflow_id} already exists") from exc
                    raise
        self._snapshots.mark_stored(digest)
        self._remember_new_run(decision, digest, plan)
        return StartResult(workflow_id=run.workflow_id, created=True)

    def _remember_new_run(self, decision: Decision, digest: str, plan: plans.WritePlan) -> None:
        """Its first decision then needs no read: the run's row and its tasks' are at version 0."""
        tasks = CachedRun.of([], [])
        tasks.apply(decision, plans.written_sizes(plan))
        run = decision.workflow
        self._known.put(run.workflow_id, KnownRun(row_version=0, digest=digest, header=run, tasks=tasks))
