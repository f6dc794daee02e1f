"""The shared store: PostgreSQL through psycopg 3 (async) and a connection pool.

Any number of Baton processes may share one database. How they stay out of
each other's way:

* Pool connections run in autocommit mode, so a single statement is its own
  transaction (one round trip, no BEGIN/COMMIT around reads); everything that
  writes more than one statement runs inside an explicit ``conn.transaction()``.
* ``transact`` locks the run's row (``FOR NO KEY UPDATE``), so decisions on one
  run are serialised; it reads the tasks in the next statement, after the lock
  is held, so it sees the last committed decision.
* ``claim_tasks`` locks the queue rows and task rows it takes with
  ``SKIP LOCKED`` and never waits on a lock, so claims cannot deadlock with each
  other or with decisions, and two claims never take one task. A claim is the
  only change made to a task outside its run's lock; a decision therefore
  guards each task update with the status it loaded, and if a claim got there
  first the decision is rolled back and made again on the fresh state.
* ``create_run`` takes the idempotency key row first (``INSERT ... ON CONFLICT
  DO NOTHING``, which waits for a concurrent holder to commit or roll back),
  then decides by strategy under that row's lock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from baton.engine.decision import Decision
from baton.errors import ConflictError, NotFoundError, StoreError
from baton.model import IdempotencyStrategy, Task, TaskDef, Workflow, WorkflowDef, WorkflowStatus
from baton.store import sql
from baton.store.base import DecisionStep, DueTimer, StartResult, Store

# -- queries -------------------------------------------------------------------------

MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(7261946083341220001)"
"""Serialises processes that start at once against one database; the number is Baton's own."""
CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""
SELECT_APPLIED_MIGRATIONS = "SELECT version FROM schema_migrations"
INSERT_APPLIED_MIGRATION = "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)"

INSERT_WORKFLOW_DEF_NEW = """
INSERT INTO workflow_defs (name, version, create_time, body) VALUES (%s, %s, %s, %s)
ON CONFLICT (name, version) DO NOTHING"""
UPSERT_WORKFLOW_DEF = """
INSERT INTO workflow_defs (name, version, create_time, body) VALUES (%s, %s, %s, %s)
ON CONFLICT (name, version) DO UPDATE SET create_time = excluded.create_time, body = excluded.body"""
SELECT_WORKFLOW_DEF = "SELECT body FROM workflow_defs WHERE name = %s AND version = %s"
SELECT_LATEST_WORKFLOW_DEF = "SELECT body FROM workflow_defs WHERE name = %s ORDER BY version DESC LIMIT 1"
SELECT_ALL_WORKFLOW_DEFS = "SELECT body FROM workflow_defs ORDER BY name, version"
SELECT_WORKFLOW_DEFS_OF = "SELECT body FROM workflow_defs WHERE name = %s ORDER BY version"
DELETE_WORKFLOW_DEF = "DELETE FROM workflow_defs WHERE name = %s AND version = %s"

INSERT_TASK_DEF_NEW = "INSERT INTO task_defs (name, body) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING"
UPSERT_TASK_DEF = """
INSERT INTO task_defs (name, body) VALUES (%s, %s)
ON CONFLICT (name) DO UPDATE SET body = excluded.body"""
SELECT_TASK_DEFS = "SELECT body FROM task_defs WHERE name = ANY(%s::text[])"
SELECT_ALL_TASK_DEFS = "SELECT body FROM task_defs ORDER BY name"
DELETE_TASK_DEF = "DELETE FROM task_defs WHERE name = %s"

INSERT_SNAPSHOT = "INSERT INTO definition_snapshots (hash, body) VALUES (%s, %s) ON CONFLICT (hash) DO NOTHING"
SELECT_SNAPSHOT = "SELECT body FROM definition_snapshots WHERE hash = %s"
SELECT_RUN_SNAPSHOT = """
SELECT s.body FROM runs r JOIN definition_snapshots s ON s.hash = r.snapshot_hash WHERE r.workflow_id = %s"""

TAKE_IDEMPOTENCY_KEY = """
INSERT INTO idempotency_keys (key, workflow_id) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING"""
LOCK_KEY_HOLDER = "SELECT workflow_id FROM idempotency_keys WHERE key = %s FOR UPDATE"
MOVE_IDEMPOTENCY_KEY = "UPDATE idempotency_keys SET workflow_id = %s WHERE key = %s"
SELECT_RUN_STATUS = "SELECT status FROM runs WHERE workflow_id = %s"

INSERT_RUN = """
INSERT INTO runs (workflow_id, name, version, status, correlation_id, priority,
                  create_time, update_time, end_time, snapshot_hash, body)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (workflow_id) DO NOTHING"""
UPDATE_RUN = """
UPDATE runs SET status = %s, correlation_id = %s, priority = %s, update_time = %s, end_time = %s, body = %s
WHERE workflow_id = %s"""
LOCK_RUN_FOR_DECISION = "SELECT body, snapshot_hash FROM runs WHERE workflow_id = %s FOR NO KEY UPDATE"
SELECT_RUN_TASKS = "SELECT body FROM tasks WHERE workflow_id = %s ORDER BY seq"
# One statement, so the header and the tasks come from one snapshot.
SELECT_RUN = "SELECT body, NULL::text[] FROM runs WHERE workflow_id = %s"
SELECT_RUN_WITH_TASKS = """
SELECT r.body, ARRAY(SELECT t.body FROM tasks t WHERE t.workflow_id = r.workflow_id ORDER BY t.seq)
FROM runs r WHERE r.workflow_id = %s"""
SELECT_CORRELATED_RUNS = """
SELECT r.body,
       CASE WHEN %(include_tasks)s
            THEN ARRAY(SELECT t.body FROM tasks t WHERE t.workflow_id = r.workflow_id ORDER BY t.seq)
       END
FROM runs r
WHERE r.name = %(name)s AND r.correlation_id = %(correlation_id)s
  AND (%(include_closed)s OR r.status IN ('RUNNING', 'PAUSED'))
ORDER BY r.create_time DESC, r.workflow_id DESC"""
DELETE_RUN = "DELETE FROM runs WHERE workflow_id = %s"
"""Its tasks, queue rows and idempotency key go with it (ON DELETE CASCADE)."""

INSERT_TASK = """
INSERT INTO tasks (task_id, workflow_id, seq, ref, task_type, status, timer_at, body)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"""
UPDATE_TASK = """
UPDATE tasks SET status = %s, timer_at = %s, body = %s
WHERE task_id = %s AND workflow_id = %s AND status = %s"""
SELECT_TASK = "SELECT body FROM tasks WHERE task_id = %s"
SELECT_WORKFLOW_ID_OF_TASK = "SELECT workflow_id FROM tasks WHERE task_id = %s"

UPSERT_QUEUE = """
INSERT INTO queue (task_id, task_type, priority, visible_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (task_id) DO UPDATE SET
    task_type = excluded.task_type, priority = excluded.priority, visible_at = excluded.visible_at"""
DELETE_QUEUE_BY_TASK = "DELETE FROM queue WHERE task_id = %s"
# Takes the first rows in claim order whose queue row and task row nobody else
# holds, removes them from the queue and returns the task bodies, in that order.
# Locking both rows means a queue row that vanished, or a task that is no
# longer SCHEDULED, since the statement's snapshot is dropped, not handed out.
CLAIM_QUEUED = """
WITH picked AS (
    SELECT q.id, q.priority, q.visible_at, t.body
    FROM queue q JOIN tasks t ON t.task_id = q.task_id
    WHERE q.task_type = %(task_type)s AND q.visible_at <= %(now)s AND t.status = 'SCHEDULED'
    ORDER BY q.priority DESC, q.visible_at, q.id
    LIMIT %(count)s
    FOR UPDATE OF q SKIP LOCKED
    FOR NO KEY UPDATE OF t SKIP LOCKED
), dequeued AS (
    DELETE FROM queue WHERE id IN (SELECT id FROM picked)
)
SELECT body FROM picked ORDER BY priority DESC, visible_at, id"""
CLAIM_TASK = """
UPDATE tasks SET status = 'IN_PROGRESS', timer_at = %s, body = %s
WHERE task_id = %s AND status = 'SCHEDULED'"""
COUNT_QUEUED = "SELECT task_type, count(*) FROM queue GROUP BY task_type"
COUNT_QUEUED_OF = """
SELECT task_type, count(*) FROM queue WHERE task_type = ANY(%s::text[]) GROUP BY task_type"""
SELECT_DUE_TIMERS = """
SELECT workflow_id, task_id FROM tasks
WHERE timer_at IS NOT NULL AND timer_at <= %s
ORDER BY timer_at, task_id
LIMIT %s"""

_MAX_ATTEMPTS = 10


class _TaskMoved(Exception):
    """A claim changed a task this decision updates; roll back and decide again."""


class _KeyMoved(Exception):
    """The idempotency key's holder vanished between two statements; start over."""


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Driver errors leave the store as StoreError; Baton's own errors pass unchanged."""
    try:
        yield
    except psycopg.Error as exc:
        raise StoreError(f"PostgreSQL failed to {action}: {exc}") from exc


class PostgresStore(Store):
    """The store on a PostgreSQL database, shared by any number of processes."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        open_timeout: float = 30.0,
        snapshot_cache_size: int = 512,
    ) -> None:
        """``url``: a libpq URL or DSN; ``min_size``/``max_size``: pool bounds;
        ``open_timeout``: seconds ``open`` waits for the first connections."""
        self._url = url
        self._min_size = min_size
        self._max_size = max_size
        self._open_timeout = open_timeout
        self._pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] | None = None
        self._snapshots = sql.SnapshotCache(snapshot_cache_size)

    # -- plumbing ------------------------------------------------------------------

    async def open(self) -> None:
        if self._pool is not None:
            return
        pool: AsyncConnectionPool[psycopg.AsyncConnection[Any]] = AsyncConnectionPool(
            self._url,
            min_size=self._min_size,
            max_size=self._max_size,
            open=False,
            name="baton",
            kwargs={"autocommit": True},
        )
        with _translated("connect"):
            try:
                await pool.open(wait=True, timeout=self._open_timeout)
                self._pool = pool
                await self._migrate()
            except BaseException:
                self._pool = None
                await pool.close()
                raise

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _migrate(self) -> None:
        async with self._connection() as conn, conn.transaction():
            await conn.execute(MIGRATION_LOCK)
            await conn.execute(CREATE_MIGRATIONS_TABLE)
            cur = await conn.execute(SELECT_APPLIED_MIGRATIONS)
            applied = {version for (version,) in await cur.fetchall()}
            for migration in sql.load_migrations("postgres"):
                if migration.version in applied:
                    continue
                # No parameters: psycopg sends the file as one simple query, all its statements at once.
                await conn.execute(migration.sql.encode())
                await conn.execute(INSERT_APPLIED_MIGRATION, (migration.version, migration.name))

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if self._pool is None:
            raise StoreError("The store is not open")
        async with self._pool.connection() as conn:
            yield conn

    async def _fetchone(self, action: str, query: str, params: Any) -> tuple[Any, ...] | None:
        with _translated(action):
            async with self._connection() as conn:
                cur = await conn.execute(query, params)
                return await cur.fetchone()

    async def _fetchall(self, action: str, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        with _translated(action):
            async with self._connection() as conn:
                cur = await conn.execute(query, params)
                return await cur.fetchall()

    async def _rowcount(self, action: str, query: str, params: Any) -> int:
        with _translated(action):
            async with self._connection() as conn:
                cur = await conn.execute(query, params)
                return cur.rowcount

    # -- definitions ---------------------------------------------------------------

    async def put_workflow_defs(self, defs: list[WorkflowDef], *, overwrite: bool) -> None:
        rows = [sql.workflow_def_row(d) for d in defs]
        with _translated("store workflow definitions"):
            async with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
                if overwrite:
                    await cur.executemany(UPSERT_WORKFLOW_DEF, rows)
                    return
                for definition, row in zip(defs, rows, strict=True):
                    await cur.execute(INSERT_WORKFLOW_DEF_NEW, row)
                    if cur.rowcount == 0:
                        raise ConflictError(
                            f"Workflow definition {definition.name} version {definition.version} already exists"
                        )

    async def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef | None:
        if version is None:
            row = await self._fetchone("read a workflow definition", SELECT_LATEST_WORKFLOW_DEF, (name,))
        else:
            row = await self._fetchone("read a workflow definition", SELECT_WORKFLOW_DEF, (name, version))
        return None if row is None else sql.decode_workflow_def(row[0])

    async def list_workflow_defs(self, name: str | None = None) -> list[WorkflowDef]:
        if name is None:
            rows = await self._fetchall("list workflow definitions", SELECT_ALL_WORKFLOW_DEFS)
        else:
            rows = await self._fetchall("list workflow definitions", SELECT_WORKFLOW_DEFS_OF, (name,))
        return [sql.decode_workflow_def(body) for (body,) in rows]

    async def delete_workflow_def(self, name: str, version: int) -> bool:
        return await self._rowcount("delete a workflow definition", DELETE_WORKFLOW_DEF, (name, version)) > 0

    async def put_task_defs(self, defs: list[TaskDef], *, overwrite: bool = True) -> None:
        rows = [sql.task_def_row(d) for d in defs]
        with _translated("store task definitions"):
            async with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
                if overwrite:
                    await cur.executemany(UPSERT_TASK_DEF, rows)
                    return
                for definition, row in zip(defs, rows, strict=True):
                    await cur.execute(INSERT_TASK_DEF_NEW, row)
                    if cur.rowcount == 0:
                        raise ConflictError(f"Task definition {definition.name} already exists")

    async def get_task_defs(self, names: Collection[str]) -> dict[str, TaskDef]:
        if not names:
            return {}
        rows = await self._fetchall("read task definitions", SELECT_TASK_DEFS, (list(names),))
        found = [sql.decode_task_def(body) for (body,) in rows]
        return {d.name: d for d in found}

    async def list_task_defs(self) -> list[TaskDef]:
        rows = await self._fetchall("list task definitions", SELECT_ALL_TASK_DEFS)
        return [sql.decode_task_def(body) for (body,) in rows]

    async def delete_task_def(self, name: str) -> bool:
        return await self._rowcount("delete a task definition", DELETE_TASK_DEF, (name,)) > 0

    # -- runs ----------------------------------------------------------------------

    async def create_run(
        self,
        decision: Decision,
        definition: WorkflowDef,
        *,
        idempotency_strategy: IdempotencyStrategy | None = None,
    ) -> StartResult:
        run = decision.workflow
        plan = sql.plan_new_run(decision)
        digest, snapshot_body = sql.snapshot_of(definition)
        key = run.idempotency_key
        with _translated("create a run"):
            async with self._connection() as conn:
                for _ in range(_MAX_ATTEMPTS):
                    try:
                        async with conn.transaction():
                            if key:
                                holder = await self._take_key(conn, key, run.workflow_id, idempotency_strategy)
                                if holder is not None:
                                    return StartResult(workflow_id=holder, created=False)
                            if not self._snapshots.is_stored(digest):
                                await conn.execute(INSERT_SNAPSHOT, (digest, snapshot_body))
                            cur = await conn.execute(INSERT_RUN, sql.run_insert_row(run, digest))
                            if cur.rowcount == 0:
                                raise ConflictError(f"Workflow {run.workflow_id} already exists")
                            await self._write_tasks(conn, plan)
                    except _KeyMoved:
                        continue
                    self._snapshots.mark_stored(digest)
                    return StartResult(workflow_id=run.workflow_id, created=True)
        raise StoreError(f"Could not settle idempotency key {key!r}")

    @staticmethod
    async def _take_key(
        conn: psycopg.AsyncConnection[Any], key: str, workflow_id: str, strategy: IdempotencyStrategy | None
    ) -> str | None:
        """Give the key to ``workflow_id``, or the id of the run to return instead; ConflictError per strategy."""
        cur = await conn.execute(TAKE_IDEMPOTENCY_KEY, (key, workflow_id))
        if cur.rowcount == 1:
            return None
        # Held by a committed run: lock the key row (waiting out a concurrent takeover),
        # then read its holder's status in a new statement, which sees that takeover's run.
        holder_row = await (await conn.execute(LOCK_KEY_HOLDER, (key,))).fetchone()
        if holder_row is None:
            raise _KeyMoved
        holder: str = holder_row[0]
        status_row = await (await conn.execute(SELECT_RUN_STATUS, (holder,))).fetchone()
        if status_row is None:
            raise _KeyMoved
        outcome = sql.resolve_key_conflict(strategy, WorkflowStatus(status_row[0]))
        if outcome is sql.KeyOutcome.RETURN_EXISTING:
            return holder
        if outcome is sql.KeyOutcome.REFUSE:
            raise ConflictError(sql.key_conflict_message(key, holder))
        await conn.execute(MOVE_IDEMPOTENCY_KEY, (workflow_id, key))
        return None

    async def transact(self, workflow_id: str, step: DecisionStep) -> Decision:
        with _translated("record a decision"):
            async with self._connection() as conn:
                for _ in range(_MAX_ATTEMPTS):
                    try:
                        async with conn.transaction():
                            return await self._decide(conn, workflow_id, step)
                    except _TaskMoved:
                        continue
        raise StoreError(f"Could not record a decision on run {workflow_id}: its tasks kept changing")

    async def _decide(self, conn: psycopg.AsyncConnection[Any], workflow_id: str, step: DecisionStep) -> Decision:
        row = await (await conn.execute(LOCK_RUN_FOR_DECISION, (workflow_id,))).fetchone()
        if row is None:
            raise NotFoundError(f"No such workflow: {workflow_id}")
        body, digest = row
        task_rows = await (await conn.execute(SELECT_RUN_TASKS, (workflow_id,))).fetchall()
        definition = await self._snapshot(conn, digest)
        run = sql.decode_run(body, (b for (b,) in task_rows))
        loaded = sql.loaded_tasks(run.tasks)
        decision = step(run, definition)
        if decision.refusal is not None:
            return decision
        plan = sql.plan_decision(decision, workflow_id, loaded)
        await conn.execute(UPDATE_RUN, sql.run_update_row(decision.workflow))
        await self._write_tasks(conn, plan)
        return decision

    async def _snapshot(self, conn: psycopg.AsyncConnection[Any], digest: str) -> WorkflowDef:
        definition = self._snapshots.get(digest)
        if definition is None:
            row = await (await conn.execute(SELECT_SNAPSHOT, (digest,))).fetchone()
            if row is None:
                raise StoreError(f"Definition snapshot {digest} is missing")
            definition = sql.decode_workflow_def(row[0])
            self._snapshots.put(digest, definition)
        return definition

    @staticmethod
    async def _write_tasks(conn: psycopg.AsyncConnection[Any], plan: sql.WritePlan) -> None:
        """Task and queue rows, sent as one pipeline: one round trip however many statements."""
        async with conn.pipeline(), conn.cursor() as cur, conn.cursor() as updates:
            if plan.task_inserts:
                await cur.executemany(INSERT_TASK, plan.task_inserts)
            if plan.task_updates:
                await updates.executemany(UPDATE_TASK, plan.task_updates)
            if plan.queue_deletes:
                await cur.executemany(DELETE_QUEUE_BY_TASK, plan.queue_deletes)
            if plan.queue_upserts:
                await cur.executemany(UPSERT_QUEUE, plan.queue_upserts)
        if plan.task_updates and updates.rowcount != len(plan.task_updates):
            raise _TaskMoved

    async def get_run(self, workflow_id: str, *, include_tasks: bool = True) -> Workflow | None:
        query = SELECT_RUN_WITH_TASKS if include_tasks else SELECT_RUN
        row = await self._fetchone("read a run", query, (workflow_id,))
        return None if row is None else sql.decode_run(row[0], row[1] or ())

    async def get_run_definition(self, workflow_id: str) -> WorkflowDef | None:
        row = await self._fetchone("read a run's definition", SELECT_RUN_SNAPSHOT, (workflow_id,))
        # Decoded afresh: the caller owns what it gets.
        return None if row is None else sql.decode_workflow_def(row[0])

    async def find_runs_by_correlation(
        self, name: str, correlation_id: str, *, include_closed: bool, include_tasks: bool
    ) -> list[Workflow]:
        params = {
            "name": name,
            "correlation_id": correlation_id,
            "include_closed": include_closed,
            "include_tasks": include_tasks,
        }
        rows = await self._fetchall("find correlated runs", SELECT_CORRELATED_RUNS, params)
        return [sql.decode_run(body, tasks or ()) for body, tasks in rows]

    async def delete_run(self, workflow_id: str) -> bool:
        return await self._rowcount("delete a run", DELETE_RUN, (workflow_id,)) > 0

    async def get_task(self, task_id: str) -> Task | None:
        row = await self._fetchone("read a task", SELECT_TASK, (task_id,))
        return None if row is None else sql.decode_task(row[0])

    async def workflow_id_of_task(self, task_id: str) -> str | None:
        row = await self._fetchone("read a task", SELECT_WORKFLOW_ID_OF_TASK, (task_id,))
        return None if row is None else str(row[0])

    # -- queue and timers ------------------------------------------------------------

    async def claim_tasks(self, task_type: str, *, worker_id: str | None, count: int, now: int) -> list[Task]:
        if count <= 0:
            return []
        params = {"task_type": task_type, "now": now, "count": count}
        with _translated("claim tasks"):
            async with self._connection() as conn, conn.transaction():
                rows = await (await conn.execute(CLAIM_QUEUED, params)).fetchall()
                tasks = [sql.claimed(sql.decode_task(body), worker_id=worker_id, now=now) for (body,) in rows]
                if tasks:
                    async with conn.cursor() as cur:
                        await cur.executemany(CLAIM_TASK, [sql.claim_update_row(t) for t in tasks])
        return tasks

    async def queue_sizes(self, task_types: Collection[str] | None = None) -> dict[str, int]:
        if task_types is None:
            rows = await self._fetchall("count queued tasks", COUNT_QUEUED)
            return {task_type: n for task_type, n in rows}
        sizes = dict.fromkeys(task_types, 0)
        if sizes:
            rows = await self._fetchall("count queued tasks", COUNT_QUEUED_OF, (list(sizes),))
            sizes.update({task_type: n for task_type, n in rows})
        return sizes

    async def due_timers(self, now: int, limit: int) -> list[DueTimer]:
        rows = await self._fetchall("read due timers", SELECT_DUE_TIMERS, (now, limit))
        return [DueTimer(workflow_id=workflow_id, task_id=task_id) for workflow_id, task_id in rows]
