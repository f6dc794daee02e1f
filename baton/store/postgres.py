"""The shared store: PostgreSQL through asyncpg and its connection pools.

Any number of Baton processes may share one database. How they stay out of
each other's way:

* ``transact`` locks the run's row (``FOR NO KEY UPDATE``), so decisions on one
  run are serialised. It reads the tasks in the same statement, and again in a
  new one (which sees the decision that held the lock before) when the run's
  version shows that a decision committed while it waited for the lock.
* ``claim_tasks`` is one statement: it locks the queue rows and task rows it
  takes with ``SKIP LOCKED`` and never waits on a lock, so claims cannot
  deadlock with each other or with decisions, and two claims never take one
  task; it picks from the queue alone before it reads any task row, and
  appends the claimed fields to the bodies as text (see CLAIM_TASKS).
* A claim (SCHEDULED -> IN_PROGRESS) is the only change made to a task outside
  its run's lock. A decision therefore updates each task only if it still has
  the status the decision loaded; if a claim got there first, the decision is
  rolled back and made again on the fresh state.
* A stand-alone ``claim_tasks`` commits with ``synchronous_commit = off``
  (its own small pool, whose connections are opened with that setting): it
  does not wait for the WAL flush. A claim lost in a PostgreSQL crash only
  leaves its task SCHEDULED and queued again, and a worker's result is
  accepted for a SCHEDULED task too, so nothing acknowledged is lost: the task
  may be handed out twice, which at-least-once delivery (as in Conductor)
  allows. Decisions, starts and ``transact_then_claim`` (whose claim commits
  with a decision) stay synchronous. A dedicated pool beats ``SET LOCAL``,
  which would need an explicit transaction: BEGIN, SET and COMMIT are three
  more round trips around a one-statement claim.
* ``create_run`` takes the idempotency key row first (``INSERT ... ON CONFLICT
  DO NOTHING``, which waits for a concurrent holder to commit or roll back),
  then decides by strategy under that row's lock.

Cost: each statement costs the client more CPU than the server spends on it,
so the write paths batch: all of a decision's rows go in one statement (the
run update, task inserts and updates, queue changes, as data-modifying CTEs
over ``unnest``ed arrays, which asyncpg sends in binary so bodies need no
escaping), and a claim is a single statement. Outside ``conn.transaction()``
asyncpg commits each statement by itself, so a read is one statement and one
round trip, as is a start without an idempotency key; every write of more than
one statement runs in an explicit ``conn.transaction()``. asyncpg prepares
each statement once per connection and caches it. A connection going back to
its pool is not reset (``_keep_session``): Baton sets no session state, and the
reset would cost a round trip per use; a transaction left open is still rolled
back by the pool.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from baton.engine.decision import Decision, Signal
from baton.errors import ConflictError, NotFoundError, StoreError
from baton.model import IdempotencyStrategy, Task, TaskDef, TaskExecLog, Workflow, WorkflowDef, WorkflowStatus
from baton.store import search_sql, sql
from baton.store.base import (
    ClaimAfter,
    ClaimLimits,
    ClaimRequest,
    DecisionStep,
    DueTimer,
    RunPage,
    SearchRequest,
    StartResult,
    Store,
    TaskPage,
)

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
INSERT_APPLIED_MIGRATION = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"

INSERT_WORKFLOW_DEF_NEW = """
INSERT INTO workflow_defs (name, version, create_time, body) VALUES ($1, $2, $3, $4)
ON CONFLICT (name, version) DO NOTHING"""
UPSERT_WORKFLOW_DEF = """
INSERT INTO workflow_defs (name, version, create_time, body) VALUES ($1, $2, $3, $4)
ON CONFLICT (name, version) DO UPDATE SET create_time = excluded.create_time, body = excluded.body"""
SELECT_WORKFLOW_DEF = "SELECT body FROM workflow_defs WHERE name = $1 AND version = $2"
SELECT_LATEST_WORKFLOW_DEF = "SELECT body FROM workflow_defs WHERE name = $1 ORDER BY version DESC LIMIT 1"
SELECT_ALL_WORKFLOW_DEFS = "SELECT body FROM workflow_defs ORDER BY name, version"
SELECT_WORKFLOW_DEFS_OF = "SELECT body FROM workflow_defs WHERE name = $1 ORDER BY version"
DELETE_WORKFLOW_DEF = "DELETE FROM workflow_defs WHERE name = $1 AND version = $2"

INSERT_TASK_DEF_NEW = "INSERT INTO task_defs (name, body) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
UPSERT_TASK_DEF = """
INSERT INTO task_defs (name, body) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET body = excluded.body"""
SELECT_TASK_DEFS = "SELECT body FROM task_defs WHERE name = ANY($1::text[])"
SELECT_ALL_TASK_DEFS = "SELECT body FROM task_defs ORDER BY name"
DELETE_TASK_DEF = "DELETE FROM task_defs WHERE name = $1"

SELECT_SNAPSHOT = "SELECT body FROM definition_snapshots WHERE hash = $1"
SELECT_RUN_SNAPSHOT = """
SELECT s.body FROM runs r JOIN definition_snapshots s ON s.hash = r.snapshot_hash WHERE r.workflow_id = $1"""

TAKE_IDEMPOTENCY_KEY = """
INSERT INTO idempotency_keys (key, workflow_id) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"""
LOCK_KEY_HOLDER = "SELECT workflow_id FROM idempotency_keys WHERE key = $1 FOR UPDATE"
MOVE_IDEMPOTENCY_KEY = "UPDATE idempotency_keys SET workflow_id = $1 WHERE key = $2"
SELECT_RUN_STATUS = "SELECT status FROM runs WHERE workflow_id = $1"

RUNS_PRIMARY_KEY = "runs_pkey"
"""Violated by a run id that is taken: a ConflictError, not a driver error."""
# The rows of a new run, all in one statement. A NULL snapshot body means it is known to be stored.
CREATE_RUN = """
WITH snapshot AS (
    INSERT INTO definition_snapshots (hash, body)
    SELECT $1, $2::text WHERE $2::text IS NOT NULL
    ON CONFLICT (hash) DO NOTHING
), run AS (
    INSERT INTO runs (workflow_id, name, version, status, correlation_id, priority,
                      create_time, update_time, end_time, snapshot_hash, body, timer_at)
    VALUES ($3, $4, $5, $6, $7, $8, $9, $10, $11, $1, $12, $25)
), inserted AS (
    INSERT INTO tasks (task_id, workflow_id, seq, ref, task_type, status, timer_at, body)
    SELECT * FROM unnest($13::text[], $14::text[], $15::int[],
                         $16::text[], $17::text[], $18::text[],
                         $19::bigint[], $20::text[])
), enqueued AS (
    INSERT INTO queue (task_id, task_type, priority, visible_at)
    SELECT * FROM unnest($21::text[], $22::text[], $23::int[], $24::bigint[])
)
SELECT 1"""
# All of a decision's rows in one statement; returns how many guarded task updates found their row.
WRITE_DECISION = """
WITH run AS (
    UPDATE runs SET status = $1, correlation_id = $2, priority = $3,
                    update_time = $4, end_time = $5, body = $6,
                    row_version = row_version + 1, timer_at = $27
    WHERE workflow_id = $7
), inserted AS (
    INSERT INTO tasks (task_id, workflow_id, seq, ref, task_type, status, timer_at, body)
    SELECT * FROM unnest($8::text[], $9::text[], $10::int[],
                         $11::text[], $12::text[], $13::text[],
                         $14::bigint[], $15::text[])
), updated AS (
    UPDATE tasks t SET status = u.status, timer_at = u.timer_at, body = u.body
    FROM unnest($16::text[], $17::bigint[], $18::text[],
                $19::text[], $20::text[], $21::text[])
         AS u (status, timer_at, body, task_id, workflow_id, expected_status)
    WHERE t.task_id = u.task_id AND t.workflow_id = u.workflow_id AND t.status = u.expected_status
    RETURNING 1
), dequeued AS (
    DELETE FROM queue WHERE task_id = ANY($22::text[])
), enqueued AS (
    INSERT INTO queue (task_id, task_type, priority, visible_at)
    SELECT * FROM unnest($23::text[], $24::text[], $25::int[], $26::bigint[])
    ON CONFLICT (task_id) DO UPDATE SET
        task_type = excluded.task_type, priority = excluded.priority, visible_at = excluded.visible_at
)
SELECT count(*) FROM updated"""
# Locks the run and reads it with its tasks in one statement. The tasks come
# from the statement's snapshot, taken before the lock was granted: if another
# decision committed in between, the locked row's version is newer than the
# snapshot's, ``fresh`` is false, and SELECT_RUN_WITH_TASKS reads them again.
LOCK_RUN_FOR_DECISION = """
SELECT r.body, r.snapshot_hash,
       r.row_version = (SELECT s.row_version FROM runs s WHERE s.workflow_id = r.workflow_id) AS fresh,
       ARRAY(SELECT t.body FROM tasks t WHERE t.workflow_id = r.workflow_id ORDER BY t.seq)
FROM runs r WHERE r.workflow_id = $1
FOR NO KEY UPDATE OF r"""
# One statement, so the header and the tasks come from one snapshot.
SELECT_RUN = "SELECT body, NULL::text[] FROM runs WHERE workflow_id = $1"
SELECT_RUN_WITH_TASKS = """
SELECT r.body, ARRAY(SELECT t.body FROM tasks t WHERE t.workflow_id = r.workflow_id ORDER BY t.seq)
FROM runs r WHERE r.workflow_id = $1"""
SELECT_CORRELATED_RUNS = """
SELECT r.body,
       CASE WHEN $1
            THEN ARRAY(SELECT t.body FROM tasks t WHERE t.workflow_id = r.workflow_id ORDER BY t.seq)
       END
FROM runs r
WHERE r.name = $2 AND r.correlation_id = $3
  AND ($4 OR r.status IN ('RUNNING', 'PAUSED'))
ORDER BY r.create_time DESC, r.workflow_id DESC"""
DELETE_RUN = "DELETE FROM runs WHERE workflow_id = $1"
"""Its tasks, queue rows and idempotency key go with it (ON DELETE CASCADE)."""

DELETE_TASKS = "DELETE FROM tasks WHERE workflow_id = $1 AND task_id = ANY($2::text[])"
"""Their queue rows and log lines go with them (ON DELETE CASCADE)."""
# The snapshot row and the run's pointer to it in one statement (as CREATE_RUN does).
REPLACE_RUN_SNAPSHOT = """
WITH snapshot AS (
    INSERT INTO definition_snapshots (hash, body) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING
)
UPDATE runs SET snapshot_hash = $1, version = $3 WHERE workflow_id = $4"""
SELECT_TASK = "SELECT body FROM tasks WHERE task_id = $1"
SELECT_WORKFLOW_ID_OF_TASK = "SELECT workflow_id FROM tasks WHERE task_id = $1"

# One statement, so one round trip and its own transaction: takes the first
# tasks in claim order whose queue row and task row nobody else holds, removes
# them from the queue and rewrites them as ``sql.claimed`` does (a test holds
# the two to the same result). Locking both rows means a queue row that
# vanished, or a task no longer SCHEDULED, since the statement's snapshot is
# dropped, not handed out; the locked row is the latest version, so its body is.
# The body is not rebuilt: the claimed fields are appended to it as text, after
# the ones it has. A JSON object with a key twice means its last value, to
# msgspec as to PostgreSQL's json functions, so the body decodes as the claimed
# task; the next decision on the task writes it whole again, so a body carries
# at most one such tail. (Rebuilding it with json_each/json_object_agg cost
# PostgreSQL several times more CPU than the rest of the claim.) Reading
# ``pollCount`` and ``responseTimeoutSeconds`` only scans the text. A batch
# that PostgreSQL's JSON refuses anyway (an escape it cannot read) fails as a
# data error and is claimed by PICK_FOR_CLAIM and REWRITE_CLAIMED instead,
# which rewrite the bodies in Python.
CLAIM_TASKS = """
WITH first AS (
    -- The queue alone: whatever plan orders the candidates (a sort, while the statistics say the
    -- queue is small), it touches no task row and no body, only the first ``count`` get further.
    SELECT q.id, q.priority, q.visible_at, q.task_id
    FROM queue q
    WHERE q.task_type = $1 AND q.visible_at <= $2
    ORDER BY q.priority DESC, q.visible_at, q.id
    LIMIT $3
    FOR UPDATE OF q SKIP LOCKED
), picked AS (
    SELECT f.id, f.priority, f.visible_at, t.task_id, t.body
    FROM first f JOIN tasks t ON t.task_id = f.task_id
    WHERE t.status = 'SCHEDULED'
    FOR NO KEY UPDATE OF t SKIP LOCKED
), fields AS (
    SELECT p.*, j.response_timeout_seconds, j.poll_count
    FROM picked p,
         LATERAL (SELECT coalesce((p.body::json ->> 'responseTimeoutSeconds')::bigint, 0),
                         coalesce((p.body::json ->> 'pollCount')::bigint, 0))
             AS j (response_timeout_seconds, poll_count)
), leased AS (
    SELECT f.*,
           CASE WHEN f.response_timeout_seconds > 0
                THEN $2::bigint + f.response_timeout_seconds * 1000 ELSE 0 END AS lease_expires_at
    FROM fields f
), dequeued AS (
    DELETE FROM queue WHERE id IN (SELECT id FROM picked)
), claimed AS (
    UPDATE tasks t
    SET status = 'IN_PROGRESS',
        -- The lease, or a timeout the task's timer already held if earlier (a poll timeout it held
        -- no longer applies: the decider re-arms a timer that fires for it).
        timer_at = least(nullif(l.lease_expires_at, 0), t.timer_at),
        -- startTime is the first poll's: a later poll (after a callback) keeps the body's.
        body = left(l.body, -1)
               || ',"status":"IN_PROGRESS","workerId":' || coalesce(to_json($4::text)::text, 'null')
               || ',"pollCount":' || (l.poll_count + 1)
               || CASE WHEN l.poll_count = 0 THEN ',"startTime":' || $2::bigint ELSE '' END
               || ',"updateTime":' || $2::bigint
               || ',"leaseExpiresAt":' || l.lease_expires_at || '}'
    FROM leased l
    WHERE t.task_id = l.task_id
    RETURNING t.body, l.priority, l.visible_at, l.id
)
SELECT body FROM claimed ORDER BY priority DESC, visible_at, id"""
PICK_FOR_CLAIM = """
WITH picked AS (
    SELECT q.id, q.priority, q.visible_at, t.body
    FROM queue q JOIN tasks t ON t.task_id = q.task_id
    WHERE q.task_type = $1 AND q.visible_at <= $2 AND t.status = 'SCHEDULED'
    ORDER BY q.priority DESC, q.visible_at, q.id
    LIMIT $3
    FOR UPDATE OF q SKIP LOCKED
    FOR NO KEY UPDATE OF t SKIP LOCKED
), dequeued AS (
    DELETE FROM queue WHERE id IN (SELECT id FROM picked)
)
SELECT body FROM picked ORDER BY priority DESC, visible_at, id"""
REWRITE_CLAIMED = """
UPDATE tasks t SET status = 'IN_PROGRESS', timer_at = c.timer_at, body = c.body
FROM unnest($1::bigint[], $2::text[], $3::text[]) AS c (timer_at, body, task_id)
WHERE t.task_id = c.task_id AND t.status = 'SCHEDULED'"""
CLAIM_REWRITTEN_FIELDS = ("status", "workerId", "pollCount", "startTime", "updateTime", "leaseExpiresAt")
"""The body fields CLAIM_TASKS sets, by their JSON names (``responseTimeoutSeconds`` it reads)."""
INSERT_SIGNAL = "INSERT INTO outbox (signal_id, created_at, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
SELECT_SIGNALS_BEFORE = "SELECT body FROM outbox WHERE created_at < $1 ORDER BY created_at LIMIT $2"
DELETE_SIGNAL = "DELETE FROM outbox WHERE signal_id = $1"
# The lines in the order given; no row inserted when there is no such task.
INSERT_TASK_LOGS = """
INSERT INTO task_logs (task_id, created_time, log)
SELECT t.task_id, l.created_time, l.log
FROM tasks t, unnest($2::bigint[], $3::text[]) WITH ORDINALITY AS l (created_time, log, n)
WHERE t.task_id = $1
ORDER BY l.n"""
INSERT_DECISION_LOGS = """
INSERT INTO task_logs (task_id, created_time, log)
SELECT l.task_id, l.created_time, l.log
FROM unnest($1::text[], $2::bigint[], $3::text[]) WITH ORDINALITY AS l (task_id, created_time, log, n)
ORDER BY l.n"""
SELECT_TASK_EXISTS = "SELECT 1 FROM tasks WHERE task_id = $1"
SELECT_TASK_LOGS = """
SELECT l.log, l.created_time FROM tasks t LEFT JOIN task_logs l ON l.task_id = t.task_id
WHERE t.task_id = $1 ORDER BY l.id"""
"""No row: no such task; one row of NULLs: a task without log lines."""
COUNT_QUEUED = "SELECT task_type, count(*) FROM queue GROUP BY task_type"
COUNT_QUEUED_OF = """
SELECT task_type, count(*) FROM queue WHERE task_type = ANY($1::text[]) GROUP BY task_type"""
# Each side stops at the limit on its own index, so a backlog of due timers is not read whole.
SELECT_DUE_TIMERS = """
(SELECT workflow_id, task_id, timer_at FROM tasks
 WHERE timer_at IS NOT NULL AND timer_at <= $1 ORDER BY timer_at, task_id LIMIT $2)
UNION ALL
(SELECT workflow_id, NULL, timer_at FROM runs WHERE timer_at IS NOT NULL AND timer_at <= $1 ORDER BY timer_at LIMIT $2)
ORDER BY 3, 2
LIMIT $2"""
# A limited claim (see ClaimLimits): lock the type, prune and count the ledger, claim, record the claims.
# The lock is taken in a statement of its own, so the count, a new statement, sees every claim committed
# by the limited claim that held the lock before.
LOCK_CLAIM_LIMIT = "SELECT pg_advisory_xact_lock(hashtextextended('baton.claim_limit:' || $1, 0))"
COUNT_CLAIM_LEDGER = """
WITH pruned AS (
    DELETE FROM task_claims c
    WHERE c.task_type = $1 AND c.claimed_at <= $2
      AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_id = c.task_id AND t.status = 'IN_PROGRESS')
)
SELECT (SELECT count(DISTINCT c.task_id) FROM task_claims c JOIN tasks t ON t.task_id = c.task_id
        WHERE c.task_type = $1 AND t.status = 'IN_PROGRESS'),
       (SELECT count(*) FROM task_claims WHERE task_type = $1 AND claimed_at > $2)"""
INSERT_CLAIM_LEDGER = """
INSERT INTO task_claims (task_type, task_id, claimed_at)
SELECT $1, task_id, $2 FROM unnest($3::text[]) AS c (task_id)"""

# The parameters of the statements with named ones, in ``$n`` order.
CREATE_RUN_ARGS = (
    "snapshot_hash", "snapshot_body", "workflow_id", "name", "version", "status", "correlation_id", "priority",
    "create_time", "update_time", "end_time", "body",
    "new_task_id", "new_workflow_id", "new_seq", "new_ref", "new_task_type", "new_status", "new_timer_at", "new_body",
    "queue_task_id", "queue_task_type", "queue_priority", "queue_visible_at",
    "timer_at",
)  # fmt: skip
WRITE_DECISION_ARGS = (
    "status", "correlation_id", "priority", "update_time", "end_time", "body", "workflow_id",
    "new_task_id", "new_workflow_id", "new_seq", "new_ref", "new_task_type", "new_status", "new_timer_at", "new_body",
    "upd_status", "upd_timer_at", "upd_body", "upd_task_id", "upd_workflow_id", "upd_expected_status",
    "dequeue_task_id",
    "queue_task_id", "queue_task_type", "queue_priority", "queue_visible_at",
    "timer_at",
)  # fmt: skip
SELECT_CORRELATED_RUNS_ARGS = ("include_tasks", "name", "correlation_id", "include_closed")
CLAIM_TASKS_ARGS = ("task_type", "now", "count", "worker_id")
PICK_FOR_CLAIM_ARGS = ("task_type", "now", "count")

_MAX_ATTEMPTS = 10


def _claim_nothing(decision: Decision) -> ClaimRequest | None:
    return None


class _TaskClaimed(Exception):
    """A claim took a task this decision updates; roll back and decide again."""


class _KeyMoved(Exception):
    """The idempotency key's holder vanished between two statements; start over."""


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Driver errors leave the store as StoreError; Baton's own errors pass unchanged."""
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise StoreError(f"PostgreSQL failed to {action}: {exc}") from exc


def _args(names: tuple[str, ...], params: dict[str, Any]) -> list[Any]:
    """The values of ``params`` in the ``$n`` order of a statement's ``names``."""
    return [params[name] for name in names]


def _rowcount(status: str) -> int:
    """The row count of a command status such as ``INSERT 0 1`` or ``DELETE 3``."""
    count = status.rpartition(" ")[2]
    return int(count) if count.isdigit() else 0


def _without_connect_timeout(url: str) -> tuple[str, float | None]:
    """``url`` without libpq's ``connect_timeout``, and its value in seconds (None if absent or not positive).

    asyncpg would send an unknown URL parameter to the server as a setting, which PostgreSQL refuses.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    timeouts = [value for name, value in query if name == "connect_timeout"]
    if not timeouts:
        return url, None
    rest = urlencode([(name, value) for name, value in query if name != "connect_timeout"])
    try:
        seconds = float(timeouts[-1])
    except ValueError:
        raise StoreError(f"Invalid connect_timeout {timeouts[-1]!r} in the database URL") from None
    return urlunsplit(parts._replace(query=rest)), seconds if seconds > 0 else None


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A released connection is not reset: Baton changes no session state, and the reset is a round trip.

    The pool still rolls back a transaction left open before it calls this.
    """


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
        """``url``: a postgresql:// URL (asyncpg takes no key=value DSN); ``min_size``/``max_size``: pool bounds;
        ``open_timeout``: seconds ``open`` waits for the first connections."""
        self._url, self._connect_timeout = _without_connect_timeout(url)
        self._min_size = min_size
        self._max_size = max_size
        self._open_timeout = open_timeout
        self._pool: asyncpg.Pool | None = None
        self._claim_pool: asyncpg.Pool | None = None
        self._snapshots = sql.SnapshotCache(snapshot_cache_size)

    # -- plumbing ------------------------------------------------------------------

    def _new_pool(self, *, min_size: int, max_size: int, server_settings: dict[str, str] | None = None) -> asyncpg.Pool:
        return asyncpg.create_pool(
            self._url,
            min_size=min(min_size, max_size),
            max_size=max_size,
            server_settings=server_settings,
            reset=_keep_session,
            timeout=min(self._open_timeout, self._connect_timeout or self._open_timeout),
        )

    async def open(self) -> None:
        if self._pool is not None:
            return
        pool: asyncpg.Pool | None = None
        claim_pool: asyncpg.Pool | None = None
        with _translated("connect"):
            try:
                pool = self._new_pool(min_size=self._min_size, max_size=self._max_size)
                async with asyncio.timeout(self._open_timeout):
                    await pool
                self._pool = pool
                await self._migrate()
                # Stand-alone claims only: their commits need not wait for the WAL flush (see the module's docstring).
                claim_pool = self._new_pool(
                    min_size=1, max_size=max(1, self._max_size // 2), server_settings={"synchronous_commit": "off"}
                )
                async with asyncio.timeout(self._open_timeout):
                    await claim_pool
                self._claim_pool = claim_pool
            except BaseException:
                self._pool = self._claim_pool = None
                # A pool whose start failed has closed itself already; terminate() then does nothing.
                for started in (claim_pool, pool):
                    if started is not None:
                        started.terminate()
                raise

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        claim_pool, self._claim_pool = self._claim_pool, None
        if claim_pool is not None:
            await claim_pool.close()
        if pool is not None:
            await pool.close()

    async def _migrate(self) -> None:
        async with self._connection() as conn, conn.transaction():
            await conn.execute(MIGRATION_LOCK)
            await conn.execute(CREATE_MIGRATIONS_TABLE)
            applied = {version for (version,) in await conn.fetch(SELECT_APPLIED_MIGRATIONS)}
            for migration in sql.load_migrations("postgres"):
                if migration.version in applied:
                    continue
                # No arguments: asyncpg sends the file as one simple query, all its statements at once.
                await conn.execute(migration.sql)
                await conn.execute(INSERT_APPLIED_MIGRATION, migration.version, migration.name)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[asyncpg.Connection]:
        if self._pool is None:
            raise StoreError("The store is not open")
        async with self._pool.acquire() as conn:
            yield conn

    async def _fetchone(self, action: str, query: str, *args: Any) -> asyncpg.Record | None:
        with _translated(action):
            async with self._connection() as conn:
                row: asyncpg.Record | None = await conn.fetchrow(query, *args)
                return row

    async def _fetchall(self, action: str, query: str, *args: Any) -> list[asyncpg.Record]:
        with _translated(action):
            async with self._connection() as conn:
                rows: list[asyncpg.Record] = await conn.fetch(query, *args)
                return rows

    async def _rowcount(self, action: str, query: str, *args: Any) -> int:
        with _translated(action):
            async with self._connection() as conn:
                return _rowcount(await conn.execute(query, *args))

    # -- definitions ---------------------------------------------------------------

    async def put_workflow_defs(self, defs: list[WorkflowDef], *, overwrite: bool) -> None:
        rows = [sql.workflow_def_row(d) for d in defs]
        with _translated("store workflow definitions"):
            async with self._connection() as conn, conn.transaction():
                if overwrite:
                    await conn.executemany(UPSERT_WORKFLOW_DEF, rows)
                    return
                for definition, row in zip(defs, rows, strict=True):
                    if _rowcount(await conn.execute(INSERT_WORKFLOW_DEF_NEW, *row)) == 0:
                        raise ConflictError(
                            f"Workflow definition {definition.name} version {definition.version} already exists"
                        )

    async def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef | None:
        if version is None:
            row = await self._fetchone("read a workflow definition", SELECT_LATEST_WORKFLOW_DEF, name)
        else:
            row = await self._fetchone("read a workflow definition", SELECT_WORKFLOW_DEF, name, version)
        return None if row is None else sql.decode_workflow_def(row[0])

    async def list_workflow_defs(self, name: str | None = None) -> list[WorkflowDef]:
        if name is None:
            rows = await self._fetchall("list workflow definitions", SELECT_ALL_WORKFLOW_DEFS)
        else:
            rows = await self._fetchall("list workflow definitions", SELECT_WORKFLOW_DEFS_OF, name)
        return [sql.decode_workflow_def(body) for (body,) in rows]

    async def delete_workflow_def(self, name: str, version: int) -> bool:
        return await self._rowcount("delete a workflow definition", DELETE_WORKFLOW_DEF, name, version) > 0

    async def put_task_defs(self, defs: list[TaskDef], *, overwrite: bool = True) -> None:
        rows = [sql.task_def_row(d) for d in defs]
        with _translated("store task definitions"):
            async with self._connection() as conn, conn.transaction():
                if overwrite:
                    await conn.executemany(UPSERT_TASK_DEF, rows)
                    return
                for definition, row in zip(defs, rows, strict=True):
                    if _rowcount(await conn.execute(INSERT_TASK_DEF_NEW, *row)) == 0:
                        raise ConflictError(f"Task definition {definition.name} already exists")

    async def get_task_defs(self, names: Collection[str]) -> dict[str, TaskDef]:
        if not names:
            return {}
        rows = await self._fetchall("read task definitions", SELECT_TASK_DEFS, list(names))
        found = [sql.decode_task_def(body) for (body,) in rows]
        return {d.name: d for d in found}

    async def list_task_defs(self) -> list[TaskDef]:
        rows = await self._fetchall("list task definitions", SELECT_ALL_TASK_DEFS)
        return [sql.decode_task_def(body) for (body,) in rows]

    async def delete_task_def(self, name: str) -> bool:
        return await self._rowcount("delete a task definition", DELETE_TASK_DEF, name) > 0

    # -- runs ----------------------------------------------------------------------

    async def create_run(
        self,
        decision: Decision,
        definition: WorkflowDef,
        *,
        idempotency_strategy: IdempotencyStrategy | None = None,
    ) -> StartResult:
        run = decision.workflow
        digest, snapshot_body = sql.snapshot_of(definition)
        plan = sql.plan_new_run(decision)
        params = _new_run_params(run, plan, digest, definition)
        if not self._snapshots.is_stored(digest):
            params["snapshot_body"] = snapshot_body
        args = _args(CREATE_RUN_ARGS, params)
        key = run.idempotency_key
        with _translated("create a run"):
            async with self._connection() as conn:
                for _ in range(_MAX_ATTEMPTS):
                    try:
                        if key or plan.outbox_inserts:
                            async with conn.transaction():
                                if key:
                                    holder = await self._take_key(conn, key, run.workflow_id, idempotency_strategy)
                                    if holder is not None:
                                        return StartResult(workflow_id=holder, created=False)
                                await conn.execute(CREATE_RUN, *args)
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
                    return StartResult(workflow_id=run.workflow_id, created=True)
        raise StoreError(f"Could not settle idempotency key {key!r}")

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
        outcome = sql.resolve_key_conflict(strategy, WorkflowStatus(status_row[0]))
        if outcome is sql.KeyOutcome.RETURN_EXISTING:
            return holder
        if outcome is sql.KeyOutcome.REFUSE:
            raise ConflictError(sql.key_conflict_message(key, holder))
        await conn.execute(MOVE_IDEMPOTENCY_KEY, workflow_id, key)
        return None

    async def transact(self, workflow_id: str, step: DecisionStep) -> Decision:
        decision, _ = await self.transact_then_claim(workflow_id, step, _claim_nothing)
        return decision

    async def transact_then_claim(
        self, workflow_id: str, step: DecisionStep, claim_after: ClaimAfter
    ) -> tuple[Decision, list[Task]]:
        with _translated("record a decision"):
            async with self._connection() as conn:
                in_python = False
                for _ in range(_MAX_ATTEMPTS):
                    try:
                        async with conn.transaction():
                            decision = await self._decide(conn, workflow_id, step)
                            if decision.refusal is not None:
                                return decision, []
                            request = claim_after(decision)
                            if request is None or request.count <= 0:
                                return decision, []
                            params = {
                                "task_type": request.task_type,
                                "now": request.now,
                                "count": request.count,
                                "worker_id": request.worker_id,
                            }
                            if request.limits is not None:
                                claimed = await self._claim_within(conn, params, request.limits)
                            elif in_python:
                                claimed = await self._claim_in_python(
                                    conn, params, worker_id=request.worker_id, now=request.now
                                )
                            else:
                                rows = await conn.fetch(CLAIM_TASKS, *_args(CLAIM_TASKS_ARGS, params))
                                claimed = [sql.decode_task(body) for (body,) in rows]
                            return decision, claimed
                    except _TaskClaimed:
                        continue
                    except asyncpg.DataError:
                        if in_python:
                            raise
                        # What PostgreSQL's JSON refuses (see CLAIM_TASKS): all again, claiming in Python.
                        in_python = True
        raise StoreError(f"Could not record a decision on run {workflow_id}: its tasks kept being claimed")

    async def _decide(self, conn: asyncpg.Connection, workflow_id: str, step: DecisionStep) -> Decision:
        row = await conn.fetchrow(LOCK_RUN_FOR_DECISION, workflow_id)
        if row is None:
            raise NotFoundError(f"No such workflow: {workflow_id}")
        body, digest, fresh, task_bodies = row
        if not fresh:
            # A new statement, started with the lock held, sees the decision that held it before.
            reread = await conn.fetchrow(SELECT_RUN_WITH_TASKS, workflow_id)
            if reread is None:
                raise NotFoundError(f"No such workflow: {workflow_id}")
            body, task_bodies = reread
        definition = await self._snapshot(conn, digest)
        run = sql.decode_run(body, task_bodies)
        loaded = sql.loaded_tasks(run.tasks)
        decision = step(run, definition)
        if decision.refusal is not None:
            return decision
        plan = sql.plan_decision(decision, workflow_id=workflow_id, loaded=loaded)
        if plan.task_deletes:
            await conn.execute(DELETE_TASKS, workflow_id, plan.task_deletes)
        if plan.snapshot is not None:
            snapshot = plan.snapshot
            await conn.execute(REPLACE_RUN_SNAPSHOT, snapshot.digest, snapshot.body, snapshot.version, workflow_id)
        params = _decision_params(decision.workflow, plan, decision.definition or definition)
        written = await conn.fetchval(WRITE_DECISION, *_args(WRITE_DECISION_ARGS, params))
        if written != len(plan.task_updates):
            raise _TaskClaimed
        if plan.outbox_inserts:
            await conn.executemany(INSERT_SIGNAL, plan.outbox_inserts)
        if plan.log_inserts:
            await conn.execute(INSERT_DECISION_LOGS, *sql.columns(plan.log_inserts, 3))
        return decision

    async def _snapshot(self, conn: asyncpg.Connection, digest: str) -> WorkflowDef:
        definition = self._snapshots.get(digest)
        if definition is None:
            row = await conn.fetchrow(SELECT_SNAPSHOT, digest)
            if row is None:
                raise StoreError(f"Definition snapshot {digest} is missing")
            definition = sql.decode_workflow_def(row[0])
            self._snapshots.put(digest, definition)
        return definition

    async def get_run(self, workflow_id: str, *, include_tasks: bool = True) -> Workflow | None:
        query = SELECT_RUN_WITH_TASKS if include_tasks else SELECT_RUN
        row = await self._fetchone("read a run", query, workflow_id)
        return None if row is None else sql.decode_run(row[0], row[1] or ())

    async def get_run_definition(self, workflow_id: str) -> WorkflowDef | None:
        row = await self._fetchone("read a run's definition", SELECT_RUN_SNAPSHOT, workflow_id)
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
        rows = await self._fetchall(
            "find correlated runs", SELECT_CORRELATED_RUNS, *_args(SELECT_CORRELATED_RUNS_ARGS, params)
        )
        return [sql.decode_run(body, tasks or ()) for body, tasks in rows]

    async def delete_run(self, workflow_id: str) -> bool:
        return await self._rowcount("delete a run", DELETE_RUN, workflow_id) > 0

    async def get_task(self, task_id: str) -> Task | None:
        row = await self._fetchone("read a task", SELECT_TASK, task_id)
        return None if row is None else sql.decode_task(row[0])

    async def workflow_id_of_task(self, task_id: str) -> str | None:
        row = await self._fetchone("read a task", SELECT_WORKFLOW_ID_OF_TASK, task_id)
        return None if row is None else str(row[0])

    # -- task logs -------------------------------------------------------------------

    async def add_task_logs(self, task_id: str, logs: Sequence[TaskExecLog]) -> bool:
        if not logs:
            return await self._fetchone("read a task", SELECT_TASK_EXISTS, task_id) is not None
        times = [log.created_time for log in logs]
        lines = [sql.encode_log_line(log.log) for log in logs]
        return await self._rowcount("add task logs", INSERT_TASK_LOGS, task_id, times, lines) > 0

    async def get_task_logs(self, task_id: str) -> list[TaskExecLog] | None:
        rows = await self._fetchall("read task logs", SELECT_TASK_LOGS, task_id)
        return sql.task_logs_of(task_id, rows)

    # -- queue and timers ------------------------------------------------------------

    async def claim_tasks(
        self, task_type: str, *, worker_id: str | None, count: int, now: int, limits: ClaimLimits | None = None
    ) -> list[Task]:
        if count <= 0:
            return []
        params = {"task_type": task_type, "now": now, "count": count, "worker_id": worker_id}
        if self._claim_pool is None:
            raise StoreError("The store is not open")
        with _translated("claim tasks"):
            async with self._claim_pool.acquire() as conn:
                if limits is not None:
                    async with conn.transaction():
                        return await self._claim_within(conn, params, limits)
                try:
                    rows = await conn.fetch(CLAIM_TASKS, *_args(CLAIM_TASKS_ARGS, params))
                except asyncpg.DataError:
                    return await self._claim_in_python(conn, params, worker_id=worker_id, now=now)
        return [sql.decode_task(body) for (body,) in rows]

    @classmethod
    async def _claim_within(cls, conn: asyncpg.Connection, params: dict[str, Any], limits: ClaimLimits) -> list[Task]:
        """A claim within ``limits``, in the caller's transaction: only for types that have limits.

        The type's advisory lock serialises its limited claims across processes
        until the transaction ends; the count after it sees all they committed.
        """
        task_type, now = params["task_type"], params["now"]
        await conn.execute(LOCK_CLAIM_LIMIT, task_type)
        in_progress, in_window = await conn.fetchrow(COUNT_CLAIM_LEDGER, task_type, now - limits.window_ms)
        allowed = limits.allowed(params["count"], in_progress=in_progress, in_window=in_window)
        if allowed <= 0:
            return []
        tasks = await cls._claim_in_python(conn, {**params, "count": allowed}, worker_id=params["worker_id"], now=now)
        if tasks:
            await conn.execute(INSERT_CLAIM_LEDGER, task_type, now, [t.task_id for t in tasks])
        return tasks

    @staticmethod
    async def _claim_in_python(
        conn: asyncpg.Connection, params: dict[str, Any], *, worker_id: str | None, now: int
    ) -> list[Task]:
        """The same claim, with the bodies rewritten by ``sql.claimed``: for what PostgreSQL's JSON refuses."""
        async with conn.transaction():
            rows = await conn.fetch(PICK_FOR_CLAIM, *_args(PICK_FOR_CLAIM_ARGS, params))
            tasks = [sql.claimed(sql.decode_task(body), worker_id=worker_id, now=now) for (body,) in rows]
            if tasks:
                rewritten = sql.columns([sql.claim_update_row(t) for t in tasks], len(sql.CLAIM_UPDATE_COLUMNS))
                await conn.execute(REWRITE_CLAIMED, *rewritten)
        return tasks

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

    # -- the outbox --------------------------------------------------------------------

    async def signals_created_before(self, created_before: int, limit: int) -> list[Signal]:
        rows = await self._fetchall("read the outbox", SELECT_SIGNALS_BEFORE, created_before, limit)
        return [sql.decode_signal(body) for (body,) in rows]

    async def delete_signal(self, signal_id: str) -> None:
        await self._rowcount("delete a signal", DELETE_SIGNAL, signal_id)

    # -- search and retention --------------------------------------------------------

    async def _search(self, statements: search_sql.SearchStatements, request: SearchRequest) -> tuple[int, list[str]]:
        with _translated("search"):
            async with self._connection() as conn:
                rows = await conn.fetch(statements.page.sql, *statements.page.params)
                counted = None
                if not search_sql.page_is_last(request.start, request.size, len(rows)):
                    counted = int(await conn.fetchval(statements.count.sql, *statements.count.params))
        bodies = [body for (body,) in rows]
        return search_sql.total_hits(request.start, request.size, len(bodies), counted), bodies

    async def search_runs(self, request: SearchRequest) -> RunPage:
        total, bodies = await self._search(search_sql.search_runs(search_sql.Dialect.POSTGRES, request), request)
        return RunPage(total_hits=total, results=[sql.decode_run(body) for body in bodies])

    async def search_tasks(self, request: SearchRequest) -> TaskPage:
        total, bodies = await self._search(search_sql.search_tasks(search_sql.Dialect.POSTGRES, request), request)
        return TaskPage(total_hits=total, results=[sql.decode_task(body) for body in bodies])

    async def running_run_ids(
        self, name: str, *, version: int | None, start_from: int | None, start_to: int | None
    ) -> list[str]:
        statement = search_sql.running_run_ids(
            search_sql.Dialect.POSTGRES, name, version=version, start_from=start_from, start_to=start_to
        )
        rows = await self._fetchall("list running runs", statement.sql, *statement.params)
        return [workflow_id for (workflow_id,) in rows]

    async def delete_finished_before(self, cutoff: int, limit: int) -> int:
        statement = search_sql.delete_finished_before(search_sql.Dialect.POSTGRES, cutoff, limit)
        return await self._rowcount("delete finished runs", statement.sql, *statement.params)


def _task_row_params(plan: sql.WritePlan) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, column in zip(
        sql.TASK_INSERT_COLUMNS, sql.columns(plan.task_inserts, len(sql.TASK_INSERT_COLUMNS)), strict=True
    ):
        params[f"new_{name}"] = column
    for name, column in zip(
        sql.QUEUE_UPSERT_COLUMNS, sql.columns(plan.queue_upserts, len(sql.QUEUE_UPSERT_COLUMNS)), strict=True
    ):
        params[f"queue_{name}"] = column
    return params


def _new_run_params(run: Workflow, plan: sql.WritePlan, digest: str, definition: WorkflowDef) -> dict[str, Any]:
    params = dict(zip(sql.RUN_INSERT_COLUMNS, sql.run_insert_row(run, digest, definition), strict=True))
    params["snapshot_body"] = None
    params.update(_task_row_params(plan))
    return params


def _decision_params(run: Workflow, plan: sql.WritePlan, definition: WorkflowDef) -> dict[str, Any]:
    params = dict(zip(sql.RUN_UPDATE_COLUMNS, sql.run_update_row(run, definition), strict=True))
    params.update(_task_row_params(plan))
    for name, column in zip(
        sql.TASK_UPDATE_COLUMNS, sql.columns(plan.task_updates, len(sql.TASK_UPDATE_COLUMNS)), strict=True
    ):
        params[f"upd_{name}"] = column
    params["dequeue_task_id"] = [task_id for (task_id,) in plan.queue_deletes]
    return params
