"""PostgreSQL's decisions: optimistic on a copy or a read, locked when that fails (see docs/design.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from baton.engine.decision import OFF_THE_LOOP, Decision
from baton.errors import NotFoundError, StoreError, workflow_not_found
from baton.model import Task, WorkflowDef
from baton.store.base import (
    ClaimAfter,
    ClaimRequest,
    DecisionStep,
)
from baton.store.common import codec, plans
from baton.store.common.run_cache import CachedRun, KnownRun
from baton.store.postgres import slices as pg_slices
from baton.store.postgres.claims import (
    PostgresClaims,
    _claim_nothing,
    _claim_request,
    _Claimed,
    _claims_first_inline,
    _claims_inline,
    _decode_claimed,
    _queues_claimable,
)
from baton.store.postgres.connection import _MAX_ATTEMPTS, _args
from baton.store.postgres.database import _translated
from baton.store.postgres.params import _decision_params, _plan
from baton.store.postgres.queries import (
    DELETE_TASKS,
    INSERT_DECISION_LOGS,
    INSERT_SIGNAL,
    LOCK_RUN_FOR_DECISION,
    READ_RUN_FOR_DECISION,
    REPLACE_RUN_SNAPSHOT,
    SELECT_SNAPSHOT,
    WRITE_DECISION,
    WRITE_DECISION_ARGS,
)


class _TaskClaimed(Exception):
    """A claim took a task this decision updates; roll back and decide again."""


class PostgresDecisions(PostgresClaims):
    """``transact`` and ``transact_then_claim``."""

    async def transact(self, workflow_id: str, step: DecisionStep) -> Decision:
        decision, _ = await self.transact_then_claim(workflow_id, step, _claim_nothing)
        return decision

    async def transact_then_claim(
        self, workflow_id: str, step: DecisionStep, claim_after: ClaimAfter
    ) -> tuple[Decision, list[Task]]:
        try:
            with _translated("record a decision"):
                # The turn before the connection: a decision waiting for its turn holds none.
                async with self._turns.turn(workflow_id), self._decision_connection() as conn:
                    return await self._decide(conn, workflow_id, step, claim_after)
        except NotFoundError:
            self._known.forget(workflow_id)
            raise
        except BaseException:
            self._known.clear()  # a copy may hold what was rolled back (this run's, or a claimed task's run's)
            raise

    async def _decide(
        self, conn: asyncpg.Connection, workflow_id: str, step: DecisionStep, claim_after: ClaimAfter
    ) -> tuple[Decision, list[Task]]:
        """From this process's copy of the run if it has one, else from a read; under the run's lock when the
        optimistic ways found the run changed under them."""
        known = self._known.get(workflow_id)
        try:
            if known is not None:
                outcome = await self._decide_unlocked(conn, workflow_id, step, claim_after, known)
                if isinstance(outcome, KnownRun):
                    known = outcome  # the copy was stale: the refused write read the run as it is
                elif outcome[0].refusal is None or outcome[0].refusal.kind == OFF_THE_LOOP:
                    return outcome
                else:
                    known = None  # a refusal must hold for the run as it is, not as this process last wrote it
            if known is None:
                known = await self._read_for_decision(conn, READ_RUN_FOR_DECISION, workflow_id)
            outcome = await self._decide_unlocked(conn, workflow_id, step, claim_after, known)
            if not isinstance(outcome, KnownRun):
                return outcome
        except asyncpg.DataError:
            # What PostgreSQL's JSON refuses (see _CLAIM_CTES): all again, claiming in Python.
            return await self._decide_locked(conn, workflow_id, step, claim_after, in_python=True)
        except pg_slices.SliceRefused:
            pass  # a claim came first: decide again under the run's lock
        return await self._decide_locked(conn, workflow_id, step, claim_after, in_python=False)

    async def _read_for_decision(self, conn: asyncpg.Connection, query: str, workflow_id: str) -> KnownRun:
        row = await conn.fetchrow(query, workflow_id)
        if row is None:
            raise workflow_not_found(workflow_id)
        return self._known_from_row(workflow_id, row)

    def _known_from_row(self, workflow_id: str, row: asyncpg.Record | tuple[Any, ...]) -> KnownRun:
        """A run as ``_RUN_FOR_DECISION`` read it (task bodies decoded through the body cache)."""
        body, digest, row_version, task_bodies, task_versions = tuple(row)[:5]
        if body is None:
            raise workflow_not_found(workflow_id)
        run, sizes = self._task_bodies.run(body, task_bodies)
        versions = [(task.task_id, version) for task, version in zip(run.tasks, task_versions, strict=True)]
        tasks = CachedRun.of(versions, run.tasks, sizes)
        return KnownRun(row_version=row_version, digest=digest, header=run, tasks=tasks)

    async def _decide_unlocked(
        self, conn: asyncpg.Connection, workflow_id: str, step: DecisionStep, claim_after: ClaimAfter, known: KnownRun
    ) -> tuple[Decision, list[Task]] | KnownRun:
        """The common case in one statement and no BEGIN/COMMIT: decide on ``known``, write if it is current.

        When another decision on the run, or a claim of one of the tasks the
        decision updates, came first, nothing was written: the run as that
        statement read it comes back, to decide again.
        """
        decision, loaded, definition = await self._step(conn, step, known)
        if decision.refusal is not None:
            return decision, []
        request = _claim_request(claim_after(decision))
        plan = await _plan(decision, workflow_id, loaded)
        if _claims_first_inline(plan, request):
            outcome = await self._write(conn, workflow_id, decision, definition, plan, known.row_version, request)
            if (
                request is not None
                and not isinstance(outcome, KnownRun)
                and len(outcome) < request.count
                and _queues_claimable(plan, request)
            ):
                # Its own statement cannot see the tasks it queued: a claim after its commit can.
                outcome += await self._claim_rest(conn, request, len(outcome))
        else:
            async with conn.transaction():
                # When it writes nothing, neither do the statements after it: there is nothing to roll back.
                outcome = await self._write(conn, workflow_id, decision, definition, plan, known.row_version, None)
                if not isinstance(outcome, KnownRun) and request is not None:
                    outcome = await self._claim_after_writes(conn, request, in_python=False)
        if isinstance(outcome, KnownRun):
            return outcome
        return self._written(workflow_id, known, decision, plan, outcome)

    async def _decide_locked(
        self,
        conn: asyncpg.Connection,
        workflow_id: str,
        step: DecisionStep,
        claim_after: ClaimAfter,
        *,
        in_python: bool,
    ) -> tuple[Decision, list[Task]]:
        """One decision in a transaction that holds the run's row lock throughout."""
        for _ in range(_MAX_ATTEMPTS):
            try:
                async with conn.transaction():
                    row = await conn.fetchrow(LOCK_RUN_FOR_DECISION, workflow_id)
                    if row is None:
                        raise workflow_not_found(workflow_id)
                    if row["fresh"]:
                        known = self._known_from_row(workflow_id, row)
                    else:
                        # A new statement, started with the lock held, sees the decision that held it before.
                        known = await self._read_for_decision(conn, READ_RUN_FOR_DECISION, workflow_id)
                    decision, loaded, definition = await self._step(conn, step, known)
                    if decision.refusal is not None:
                        return decision, []
                    request = _claim_request(claim_after(decision))
                    plan = await _plan(decision, workflow_id, loaded)
                    inline = not in_python and _claims_inline(plan, request)
                    outcome = await self._write(
                        conn, workflow_id, decision, definition, plan, known.row_version, request if inline else None
                    )
                    if isinstance(outcome, KnownRun):
                        raise _TaskClaimed
                    if request is not None and not inline:
                        outcome = await self._claim_after_writes(conn, request, in_python=in_python)
                return self._written(workflow_id, known, decision, plan, outcome)
            except (_TaskClaimed, pg_slices.SliceRefused):
                continue
            except asyncpg.DataError:
                if in_python:
                    raise
                in_python = True
        raise StoreError(f"Could not record a decision on run {workflow_id}: its tasks kept being claimed")

    async def _step(
        self, conn: asyncpg.Connection, step: DecisionStep, known: KnownRun
    ) -> tuple[Decision, Mapping[str, Task], WorkflowDef]:
        """The decision on the run as known, its tasks as loaded (by id), and the definition the run executes after
        the decision."""
        definition = await self._snapshot(conn, known.digest)
        run = known.run()
        decision = step(run, definition)
        return decision, known.loaded(run), decision.definition or definition

    def _written(
        self, workflow_id: str, known: KnownRun, decision: Decision, plan: plans.WritePlan, claimed: list[_Claimed]
    ) -> tuple[Decision, list[Task]]:
        """After the decision made on ``known`` committed: remember the run as written, and the claims."""
        current = self._known.peek(workflow_id)
        if current is None or current.row_version <= known.row_version:  # else a later decision is remembered
            known.tasks.apply(decision, plans.written_sizes(plan))
            digest = plan.snapshot.digest if plan.snapshot is not None else known.digest
            written = KnownRun(
                row_version=known.row_version + 1, digest=digest, header=decision.workflow, tasks=known.tasks
            )
            self._known.put(workflow_id, written)
        return decision, self._note_claims(claimed)

    async def _write(
        self,
        conn: asyncpg.Connection,
        workflow_id: str,
        decision: Decision,
        definition: WorkflowDef,
        plan: plans.WritePlan,
        row_version: int,
        claim: ClaimRequest | None,
    ) -> list[_Claimed] | KnownRun:
        """WRITE_DECISION, then the plan's other statements if it wrote: what it claimed; or, when the run or its
        tasks were not as read, the run as it is (nothing written).

        The caller holds a transaction whenever ``_has_more_statements(plan)``.
        """
        head, tails = pg_slices.split(plan)
        params = _decision_params(decision.workflow, head, definition)
        params["row_version"] = row_version
        params["claim_task_type"] = claim.task_type if claim else ""
        params["claim_now"] = claim.now if claim else 0
        params["claim_count"] = claim.count if claim else 0
        params["claim_worker_id"] = claim.worker_id if claim else None
        row = await conn.fetchrow(WRITE_DECISION, *_args(WRITE_DECISION_ARGS, params))
        written, bodies, versions = row[0], row[1], row[2]
        if not written:
            return self._known_from_row(workflow_id, tuple(row)[3:])
        await pg_slices.write_tails(conn, tails)
        if plan.task_deletes:
            await conn.execute(DELETE_TASKS, workflow_id, plan.task_deletes)
        if plan.snapshot is not None:
            snapshot = plan.snapshot
            await conn.execute(REPLACE_RUN_SNAPSHOT, snapshot.digest, snapshot.body, snapshot.version, workflow_id)
        if plan.outbox_inserts:
            await conn.executemany(INSERT_SIGNAL, plan.outbox_inserts)
        if plan.log_inserts:
            await conn.execute(INSERT_DECISION_LOGS, *plans.columns(plan.log_inserts, 3))
        return _decode_claimed(zip(bodies, versions, strict=True))

    async def _snapshot(self, conn: asyncpg.Connection, digest: str) -> WorkflowDef:
        definition = self._snapshots.get(digest)
        if definition is None:
            row = await conn.fetchrow(SELECT_SNAPSHOT, digest)
            if row is None:
                raise StoreError(f"Definition snapshot {digest} is missing")
            definition = codec.decode_workflow_def(row[0])
            self._snapshots.put(digest, definition, len(row[0]))
        return definition
