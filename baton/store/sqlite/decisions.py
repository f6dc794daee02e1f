"""SQLite's starts and decisions: loaded, decided and written in one turn of the loop, in the commit group."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Iterator

from baton.engine.decision import Decision
from baton.errors import ConflictError, StoreError, workflow_not_found
from baton.model import IdempotencyStrategy, Task, WorkflowDef
from baton.store.base import (
    ClaimAfter,
    DecisionStep,
    StartResult,
)
from baton.store.common import codec, keys, plans
from baton.store.common.dialect import Dialect
from baton.store.common.run_cache import CachedRun, LoadedTasks
from baton.store.sqlite.claims import SqliteClaims
from baton.store.sqlite.commits import acknowledged_after_commit
from baton.store.sqlite.connection import _slices
from baton.store.sqlite.database import SqliteExecutor
from baton.store.sqlite.queries import (
    DELETE_QUEUE_BY_TASK,
    DELETE_TASK,
    INSERT_RUN,
    INSERT_SIGNAL,
    INSERT_SNAPSHOT,
    INSERT_TASK,
    INSERT_TASK_LOG,
    SELECT_RUN_FOR_DECISION,
    SELECT_RUN_TASK_VERSIONS,
    SELECT_SNAPSHOT,
    SELECT_TASK_BODIES,
    UPDATE_RUN,
    UPDATE_RUN_SNAPSHOT,
    UPDATE_TASK,
    UPSERT_QUEUE,
)


class SqliteDecisions(SqliteClaims):
    """``create_run``, ``transact`` and ``transact_then_claim``."""

    # -- runs ----------------------------------------------------------------------

    @acknowledged_after_commit
    async def create_run(
        self,
        decision: Decision,
        definition: WorkflowDef,
        *,
        idempotency_strategy: IdempotencyStrategy | None = None,
    ) -> StartResult:
        run = decision.workflow
        large = plans.is_large(decision)
        if large:  # encoded a slice a turn, then written a slice a turn while the group is held
            plan = await plans.plan_new_run_in_turns(decision)
            await self.commits.wait_turn()
        else:
            plan = plans.plan_new_run(decision)
        digest, snapshot_body = self._snapshots.snapshot_of(definition)
        key = run.idempotency_key
        with self._write("create a run") as conn:
            if key:
                holder = await keys.take_key(
                    SqliteExecutor(conn), Dialect.SQLITE, key, run.workflow_id, idempotency_strategy
                )
                if holder is not None:
                    return StartResult(workflow_id=holder, created=False)
            if not self._snapshots.is_stored(digest):
                conn.execute(INSERT_SNAPSHOT, (digest, snapshot_body))
            if conn.execute(INSERT_RUN, plans.run_insert_row(run, digest, definition)).rowcount == 0:
                raise ConflictError(f"Workflow {run.workflow_id} already exists")
            if large:
                async with self.commits.held():
                    for _ in self._task_writes(conn, plan, plans.TURN_TASKS):
                        await asyncio.sleep(0)
            else:
                self._write_tasks(conn, plan)
            if plan.log_inserts:
                conn.executemany(INSERT_TASK_LOG, plan.log_inserts)
        self._snapshots.mark_stored(digest)
        # Its first decision then finds the run cached, its tasks at version 0.
        self._tasks.remember(plan, decision)
        cached = CachedRun.of([], [])
        cached.apply(decision, plans.written_sizes(plan))
        self._runs.put(run.workflow_id, cached)
        return StartResult(workflow_id=run.workflow_id, created=True)

    @acknowledged_after_commit
    async def transact(self, workflow_id: str, step: DecisionStep) -> Decision:
        """A large decision (``plans.is_large``) is encoded and written ``plans.TURN_TASKS`` tasks a turn, holding the
        group meanwhile (``CommitGroup.held``): still one transaction, and the loop is never held for all of it."""
        try:
            with self._write("record a decision") as conn:
                decision, loaded, definition, cached = self._step(conn, workflow_id, step)
                if decision.refusal is not None:
                    return decision
                if not plans.is_large(decision):
                    plan = plans.plan_decision(decision, workflow_id=workflow_id, loaded=loaded)
                    for _ in self._decision_writes(conn, decision, definition, plan, cached, None):
                        pass
                    return decision
                async with self.commits.held():
                    plan = await plans.plan_decision_in_turns(decision, workflow_id=workflow_id, loaded=loaded)
                    for _ in self._decision_writes(conn, decision, definition, plan, cached, plans.TURN_TASKS):
                        await asyncio.sleep(0)
                return decision
        except BaseException:
            self._runs.forget(workflow_id)  # its copy may hold what was rolled back
            raise

    @acknowledged_after_commit
    async def transact_then_claim(
        self, workflow_id: str, step: DecisionStep, claim_after: ClaimAfter
    ) -> tuple[Decision, list[Task]]:
        try:
            with self._write("record a decision and claim") as conn:
                decision = self._decide(conn, workflow_id, step)
                if decision.refusal is not None:
                    return decision, []
                request = claim_after(decision)
                if request is None or request.count <= 0:
                    return decision, []
                claimed = self._claim(
                    conn, request.task_type, request.worker_id, request.count, request.now, request.limits
                )
                return decision, claimed
        except BaseException:
            self._runs.clear()  # a copy may hold what was rolled back (this run's, or a claimed task's run's)
            raise

    def _decide(self, conn: sqlite3.Connection, workflow_id: str, step: DecisionStep) -> Decision:
        decision, loaded, definition, cached = self._step(conn, workflow_id, step)
        if decision.refusal is not None:
            return decision
        plan = plans.plan_decision(decision, workflow_id=workflow_id, loaded=loaded)
        for _ in self._decision_writes(conn, decision, definition, plan, cached, None):
            pass
        return decision

    def _step(
        self, conn: sqlite3.Connection, workflow_id: str, step: DecisionStep
    ) -> tuple[Decision, LoadedTasks, WorkflowDef, CachedRun]:
        """The decision on the run as stored (or as cached), its tasks as loaded, its definition and its copy."""
        row = conn.execute(SELECT_RUN_FOR_DECISION, (workflow_id,)).fetchone()
        if row is None:
            raise workflow_not_found(workflow_id)
        body, digest = row
        definition = self._snapshot(conn, digest)
        cached = self._runs.get(workflow_id)
        if cached is None:
            cached = self._load_run(conn, workflow_id, body)
        run = codec.decode_run(body)
        run.tasks = list(cached.tasks)
        loaded = LoadedTasks(run.tasks, cached.position)
        return step(run, definition), loaded, definition, cached

    def _decision_writes(
        self,
        conn: sqlite3.Connection,
        decision: Decision,
        definition: WorkflowDef,
        plan: plans.WritePlan,
        cached: CachedRun,
        slice_rows: int | None,
    ) -> Iterator[None]:
        """Write a decision, yielding after each ``slice_rows`` rows of a statement (None: all at once)."""
        workflow_id = decision.workflow.workflow_id
        for rows in _slices([(task_id, workflow_id) for task_id in plan.task_deletes], slice_rows):
            conn.executemany(DELETE_TASK, rows)
            yield
        if plan.snapshot is not None:
            conn.execute(INSERT_SNAPSHOT, (plan.snapshot.digest, plan.snapshot.body))
            conn.execute(UPDATE_RUN_SNAPSHOT, (plan.snapshot.digest, plan.snapshot.version, workflow_id))
        conn.execute(UPDATE_RUN, plans.run_update_row(decision.workflow, decision.definition or definition))
        yield from self._task_writes(conn, plan, slice_rows)
        if plan.log_inserts:
            conn.executemany(INSERT_TASK_LOG, plan.log_inserts)
        self._tasks.remember(plan, decision)
        cached.apply(decision, plans.written_sizes(plan))
        self._runs.put(workflow_id, cached)  # counted anew

    def _load_run(self, conn: sqlite3.Connection, workflow_id: str, body: str) -> CachedRun:
        """Read a run's tasks in full (their versions, and the bodies ``caches.TaskCache`` lacks) and cache it."""
        versions = conn.execute(SELECT_RUN_TASK_VERSIONS, (workflow_id,)).fetchall()

        def load(stale: list[str]) -> list[tuple[str, int, str]]:
            return conn.execute(SELECT_TASK_BODIES, (workflow_id, json.dumps(stale))).fetchall()

        run, sizes = self._tasks.run(body, versions, load)
        cached = CachedRun.of(versions, run.tasks, sizes)
        self._runs.put(workflow_id, cached)
        return cached

    def _snapshot(self, conn: sqlite3.Connection, digest: str) -> WorkflowDef:
        definition = self._snapshots.get(digest)
        if definition is None:
            row = conn.execute(SELECT_SNAPSHOT, (digest,)).fetchone()
            if row is None:
                raise StoreError(f"Definition snapshot {digest} is missing")
            definition = codec.decode_workflow_def(row[0])
            self._snapshots.put(digest, definition, len(row[0]))
        return definition

    @classmethod
    def _write_tasks(cls, conn: sqlite3.Connection, plan: plans.WritePlan) -> None:
        for _ in cls._task_writes(conn, plan, None):
            pass

    @staticmethod
    def _task_writes(conn: sqlite3.Connection, plan: plans.WritePlan, slice_rows: int | None) -> Iterator[None]:
        for rows in _slices(plan.task_inserts, slice_rows):
            conn.executemany(INSERT_TASK, rows)
            yield
        updated = 0
        for rows in _slices(plan.task_updates, slice_rows):
            updated += conn.executemany(UPDATE_TASK, rows).rowcount
            yield
        if updated != len(plan.task_updates):
            # Cannot happen under BEGIN IMMEDIATE, which was held since the tasks were loaded.
            raise StoreError("A task changed while a decision on its run was being made")
        for statement, all_rows in (
            (DELETE_QUEUE_BY_TASK, plan.queue_deletes),
            (UPSERT_QUEUE, plan.queue_upserts),
            (INSERT_SIGNAL, plan.outbox_inserts),
        ):
            for rows in _slices(all_rows, slice_rows):
                conn.executemany(statement, rows)
                yield
