"""The embedded store: one SQLite file in WAL mode, through the standard library's ``sqlite3``.

Every method runs synchronously on the event loop, on one connection. That is
deliberate: each call here takes well under a millisecond, and SQLite allows a
single writer, so handing calls to threads would only add hops and let two
writes interleave. Because no method awaits between its first and last
statement, each write is a unit that nothing else in this process can enter,
and ``transact`` runs load -> step -> write inside it. The writes of one turn of
the event loop share a transaction and its COMMIT (``sqlite_commits``), and
every call returns only once that COMMIT is done. ``BEGIN IMMEDIATE`` takes the
write lock up front, so another process sharing the file (the CLI, say) waits
on ``busy_timeout`` instead of failing half-way. The exceptions are the large
ones (a start or a decision of thousands of tasks, a run's removal): they go a
slice a turn, the first two holding the commit group meanwhile (``sqlite_commits``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

from baton.engine.decision import Decision, Signal
from baton.errors import ConflictError, NotFoundError, StoreError
from baton.model import IdempotencyStrategy, Task, TaskDef, TaskExecLog, Workflow, WorkflowDef, WorkflowStatus
from baton.store import search_sql, sql
from baton.store.base import (
    ClaimAfter,
    ClaimLimits,
    DecisionStep,
    DueTimer,
    RunPage,
    RunTaskPage,
    SearchRequest,
    StartResult,
    Store,
    TaskPage,
)
from baton.store.run_cache import CachedRun, LoadedTasks, RunCache
from baton.store.sqlite_commits import CommitGroup, acknowledged_after_commit, translated
from baton.store.sqlite_reads import OffLoopReads

# -- queries -------------------------------------------------------------------------

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)"""
SELECT_APPLIED_MIGRATIONS = "SELECT version FROM schema_migrations"
INSERT_APPLIED_MIGRATION = "INSERT INTO schema_migrations (version, name) VALUES (?, ?)"

INSERT_WORKFLOW_DEF_NEW = """
INSERT INTO workflow_defs (name, version, create_time, body) VALUES (?, ?, ?, ?)
ON CONFLICT (name, version) DO NOTHING"""
UPSERT_WORKFLOW_DEF = """
INSERT INTO workflow_defs (name, version, create_time, body) VALUES (?, ?, ?, ?)
ON CONFLICT (name, version) DO UPDATE SET create_time = excluded.create_time, body = excluded.body"""
SELECT_WORKFLOW_DEF = "SELECT body FROM workflow_defs WHERE name = ? AND version = ?"
SELECT_LATEST_WORKFLOW_DEF = "SELECT body FROM workflow_defs WHERE name = ? ORDER BY version DESC LIMIT 1"
SELECT_ALL_WORKFLOW_DEFS = "SELECT body FROM workflow_defs ORDER BY name, version"
SELECT_WORKFLOW_DEFS_OF = "SELECT body FROM workflow_defs WHERE name = ? ORDER BY version"
DELETE_WORKFLOW_DEF = "DELETE FROM workflow_defs WHERE name = ? AND version = ?"

INSERT_TASK_DEF_NEW = "INSERT INTO task_defs (name, body) VALUES (?, ?) ON CONFLICT (name) DO NOTHING"
UPSERT_TASK_DEF = """
INSERT INTO task_defs (name, body) VALUES (?, ?)
ON CONFLICT (name) DO UPDATE SET body = excluded.body"""
SELECT_TASK_DEFS = "SELECT body FROM task_defs WHERE name IN (SELECT value FROM json_each(?))"
SELECT_ALL_TASK_DEFS = "SELECT body FROM task_defs ORDER BY name"
DELETE_TASK_DEF = "DELETE FROM task_defs WHERE name = ?"

INSERT_SNAPSHOT = "INSERT INTO definition_snapshots (hash, body) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING"
SELECT_SNAPSHOT = "SELECT body FROM definition_snapshots WHERE hash = ?"
SELECT_RUN_SNAPSHOT = """
SELECT s.body FROM runs r JOIN definition_snapshots s ON s.hash = r.snapshot_hash WHERE r.workflow_id = ?"""

TAKE_IDEMPOTENCY_KEY = """
INSERT INTO idempotency_keys (key, workflow_id) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"""
SELECT_KEY_HOLDER = "SELECT workflow_id FROM idempotency_keys WHERE key = ?"
MOVE_IDEMPOTENCY_KEY = "UPDATE idempotency_keys SET workflow_id = ? WHERE key = ?"
SELECT_RUN_STATUS = "SELECT status FROM runs WHERE workflow_id = ?"

INSERT_RUN = """
INSERT INTO runs (workflow_id, name, version, status, correlation_id, priority,
                  create_time, update_time, end_time, snapshot_hash, body, timer_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (workflow_id) DO NOTHING"""
UPDATE_RUN = """
UPDATE runs SET status = ?1, correlation_id = ?2, priority = ?3, update_time = ?4, end_time = ?5, body = ?6,
                row_version = row_version + 1, timer_at = ?8
WHERE workflow_id = ?7"""
SELECT_RUN = "SELECT body FROM runs WHERE workflow_id = ?"
SELECT_RUN_FOR_DECISION = "SELECT body, snapshot_hash FROM runs WHERE workflow_id = ?"
SELECT_RUN_TASKS = "SELECT body FROM tasks WHERE workflow_id = ? ORDER BY seq"
SELECT_RUN_TASKS_UP_TO = "SELECT body FROM tasks WHERE workflow_id = ? ORDER BY seq LIMIT ?"
SELECT_RUN_TASKS_AFTER = "SELECT seq, body FROM tasks WHERE workflow_id = ? AND seq > ? ORDER BY seq LIMIT ?"
COUNT_RUN_TASKS_BY_STATUS = "SELECT status, count(*) FROM tasks WHERE workflow_id = ? GROUP BY status"
SELECT_RUN_TASK_PAGE = """
SELECT body FROM tasks
WHERE workflow_id = ?1 AND (?2 = '[]' OR status IN (SELECT value FROM json_each(?2)))
ORDER BY seq LIMIT ?3 OFFSET ?4"""
SELECT_RUN_TASK_VERSIONS = "SELECT task_id, row_version FROM tasks WHERE workflow_id = ? ORDER BY seq"
SELECT_TASK_BODIES = """
SELECT task_id, row_version, body FROM tasks
WHERE workflow_id = ? AND task_id IN (SELECT value FROM json_each(?))"""
SELECT_CORRELATED_RUNS = """
SELECT workflow_id, body FROM runs
WHERE name = ? AND correlation_id = ? AND (? OR status IN ('RUNNING', 'PAUSED'))
ORDER BY create_time DESC, workflow_id DESC"""
SELECT_TASKS_OF_RUNS = """
SELECT workflow_id, body FROM tasks
WHERE workflow_id IN (SELECT value FROM json_each(?))
ORDER BY workflow_id, seq"""
DELETE_RUN = "DELETE FROM runs WHERE workflow_id = ?"
"""Its tasks, queue rows and idempotency key go with it (ON DELETE CASCADE)."""
RETURNING_ID = " RETURNING workflow_id"
SELECT_TASK_IDS_OF_RUN = "SELECT task_id FROM tasks WHERE workflow_id = ? LIMIT ?"
DELETE_TASKS_BY_ID = "DELETE FROM tasks WHERE task_id IN (SELECT value FROM json_each(?))"
"""By primary key (with ``workflow_id = ?`` too, SQLite walks the run's index for every chunk). Their queue rows
and log lines go with them (ON DELETE CASCADE)."""

INSERT_TASK = """
INSERT INTO tasks (task_id, workflow_id, seq, ref, task_type, status, timer_at, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
UPDATE_TASK = """
UPDATE tasks SET status = ?, timer_at = ?, body = ?, row_version = row_version + 1
WHERE task_id = ? AND workflow_id = ? AND status = ?"""
DELETE_TASK = "DELETE FROM tasks WHERE task_id = ? AND workflow_id = ?"
"""Its queue row and log lines go with it (ON DELETE CASCADE)."""
UPDATE_RUN_SNAPSHOT = "UPDATE runs SET snapshot_hash = ?, version = ? WHERE workflow_id = ?"
SELECT_TASK = "SELECT body FROM tasks WHERE task_id = ?"
SELECT_WORKFLOW_ID_OF_TASK = "SELECT workflow_id FROM tasks WHERE task_id = ?"

UPSERT_QUEUE = """
INSERT INTO queue (task_id, task_type, priority, visible_at) VALUES (?, ?, ?, ?)
ON CONFLICT (task_id) DO UPDATE SET
    task_type = excluded.task_type, priority = excluded.priority, visible_at = excluded.visible_at"""
DELETE_QUEUE_BY_TASK = "DELETE FROM queue WHERE task_id = ?"
INSERT_SIGNAL = "INSERT INTO outbox (signal_id, created_at, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
SELECT_SIGNALS_BEFORE = "SELECT body FROM outbox WHERE created_at < ? ORDER BY created_at LIMIT ?"
DELETE_SIGNAL = "DELETE FROM outbox WHERE signal_id = ?"
PICK_QUEUED = """
SELECT q.id, t.body, t.row_version FROM queue q JOIN tasks t ON t.task_id = q.task_id
WHERE q.task_type = ? AND q.visible_at <= ? AND t.status = 'SCHEDULED'
ORDER BY q.priority DESC, q.visible_at, q.id
LIMIT ?"""
DELETE_QUEUE_BY_ID = "DELETE FROM queue WHERE id = ?"
CLAIM_TASK = """
UPDATE tasks SET status = 'IN_PROGRESS', timer_at = ?, body = ?, row_version = row_version + 1
WHERE task_id = ? AND status = 'SCHEDULED'"""
INSERT_TASK_LOG = "INSERT INTO task_logs (task_id, created_time, log) VALUES (?, ?, ?)"
SELECT_TASK_LOGS = """
SELECT l.log, l.created_time FROM tasks t LEFT JOIN task_logs l ON l.task_id = t.task_id
WHERE t.task_id = ? ORDER BY l.id"""
"""No row: no such task; one row of NULLs: a task without log lines."""

COUNT_QUEUED = "SELECT task_type, count(*) FROM queue GROUP BY task_type"
COUNT_QUEUED_OF = """
SELECT task_type, count(*) FROM queue
WHERE task_type IN (SELECT value FROM json_each(?))
GROUP BY task_type"""
# Each side stops at the limit on its own index, so a backlog of due timers is not read whole.
SELECT_DUE_TIMERS = """
SELECT * FROM (SELECT workflow_id, task_id, timer_at FROM tasks
               WHERE timer_at IS NOT NULL AND timer_at <= ?1 ORDER BY timer_at, task_id LIMIT ?2)
UNION ALL
SELECT * FROM (SELECT workflow_id, NULL, timer_at FROM runs
               WHERE timer_at IS NOT NULL AND timer_at <= ?1 ORDER BY timer_at LIMIT ?2)
ORDER BY 3, 2
LIMIT ?2"""
# A limited claim: prune the ledger, count it, claim, record the claims (see ClaimLimits).
PRUNE_CLAIM_LEDGER = """
DELETE FROM task_claims
WHERE task_type = ?1 AND claimed_at <= ?2
  AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_id = task_claims.task_id AND t.status = 'IN_PROGRESS')"""
COUNT_CLAIM_LEDGER = """
SELECT (SELECT count(DISTINCT c.task_id) FROM task_claims c JOIN tasks t ON t.task_id = c.task_id
        WHERE c.task_type = ?1 AND t.status = 'IN_PROGRESS'),
       (SELECT count(*) FROM task_claims WHERE task_type = ?1 AND claimed_at > ?2)"""
INSERT_CLAIM_LEDGER = "INSERT INTO task_claims (task_type, task_id, claimed_at) VALUES (?, ?, ?)"

_MAX_KEY_ATTEMPTS = 10
_DELETE_CHUNK = 1000
"""Tasks deleted per write when a run is removed (see ``delete_run``)."""

log = logging.getLogger(__name__)

_R = TypeVar("_R")
ON_LOOP_TASKS = 1000
"""A run read whole with more tasks than this, or one this process keeps no copy of, is read in a reader thread."""


class _Checkpointer:
    """Copies the WAL into the database file from a thread of its own, on its own connection.

    With SQLite's automatic checkpoint, the COMMIT that crosses the threshold
    copies the log and fsyncs the file, on the event loop: a few milliseconds
    that every request waiting behind it pays. Here that work (and the only
    fsyncs; WAL commits under synchronous=NORMAL make none) happens beside the
    loop, and sqlite3 releases the GIL while it does.
    """

    def __init__(self, path: str, *, interval_s: float = 0.1, truncate_above_bytes: int = 64 << 20) -> None:
        self._path = path
        self._wal = path + "-wal"
        self._interval_s = interval_s
        self._truncate_above = truncate_above_bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="baton-sqlite-checkpoint", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("no background WAL checkpoints: %s", exc)
            return
        try:
            # Short: a checkpoint that finds the writer busy gives up and comes back, it never queues behind it.
            conn.execute("PRAGMA busy_timeout = 50")
            while not self._stop.wait(self._interval_s):
                try:
                    self._checkpoint(conn)
                except sqlite3.Error as exc:  # busy or locked: the next round will do
                    log.debug("WAL checkpoint skipped: %s", exc)
        finally:
            conn.close()

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        try:
            wal_bytes = os.path.getsize(self._wal)
        except OSError:
            return
        if wal_bytes > self._truncate_above:
            # Bounds the file: once a reader held the log open past a restart it may have grown; this
            # waits (briefly, see busy_timeout) for the writer and empties it.
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        else:
            # PASSIVE: copies what it can without taking a lock anyone waits on; the next writer
            # then starts the log over, so its size stays near what is written between two rounds.
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _statements(script: str) -> Iterator[str]:
    """The statements of a migration, split where SQLite's own tokenizer says one is complete."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            yield buffer.strip()
            buffer = ""
    rest = "\n".join(ln for ln in buffer.splitlines() if not ln.strip().startswith("--")).strip()
    if rest:
        raise StoreError(f"Migration ends with an unterminated statement: {rest[:80]!r}")


def _slices(rows: list[Any], size: int | None) -> Iterator[list[Any]]:
    """``rows`` in slices of ``size`` (all in one when None); none when there are none."""
    step = size or len(rows) or 1
    for start in range(0, len(rows), step):
        yield rows[start : start + step]


class SqliteStore(Store):
    """The store on one SQLite file (``:memory:`` for a private in-memory database)."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout_ms: int = 5000,
        snapshot_cache_size: int = 512,
        run_cache_bytes: int = 64 << 20,
    ) -> None:
        """``run_cache_bytes``: what the copies of runs and the decoded tasks this process keeps may hold each, by
        their encoded bodies' length (``RunCache``, ``sql.TaskCache``)."""
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._conn: sqlite3.Connection | None = None
        self._checkpointer: _Checkpointer | None = None
        self._reads: OffLoopReads | None = None
        self._snapshots = sql.SnapshotCache(snapshot_cache_size)
        self._tasks = sql.TaskCache(run_cache_bytes)
        self._runs: RunCache[CachedRun] = RunCache(run_cache_bytes)
        self.commits = CommitGroup(on_lost=self._forget_uncommitted, on_foreign_commit=self._runs.clear)

    # -- plumbing ------------------------------------------------------------------

    async def open(self) -> None:
        if self._conn is not None:
            return
        with translated("open the database"):
            # isolation_level=None: no implicit transactions; every one here is explicit. Used from the loop, but a
            # held write's COMMIT runs in a thread while nothing else may touch it (CommitGroup._commit_held).
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            try:
                # WAL: readers never block the writer, and a commit is one append to the log.
                conn.execute("PRAGMA journal_mode = WAL")
                # NORMAL in WAL mode: a commit survives a killed process; only a power cut can lose the last few.
                conn.execute("PRAGMA synchronous = NORMAL")
                # Another process holding the write lock (the CLI, say) makes us wait a while, not fail at once.
                conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
                # Off by default in SQLite; deleting a run cascades to its tasks, queue rows and key.
                conn.execute("PRAGMA foreign_keys = ON")
                self._migrate(conn)
                if self._path != ":memory:":
                    # No checkpoint inside our COMMITs (it would fsync on the event loop): _Checkpointer does them.
                    conn.execute("PRAGMA wal_autocheckpoint = 0")
                    self._checkpointer = _Checkpointer(self._path)
                    self._checkpointer.start()
                    self._reads = OffLoopReads(self._path, busy_timeout_ms=self._busy_timeout_ms)
            except BaseException:
                conn.close()
                raise
        self._conn = conn

    async def close(self) -> None:
        await self.commits.wait_turn()  # a held write's COMMIT may still be running in its thread
        self.commits.commit()
        checkpointer, self._checkpointer = self._checkpointer, None
        if checkpointer is not None:
            checkpointer.stop()
        reads, self._reads = self._reads, None
        if reads is not None:
            await asyncio.to_thread(reads.close)
        conn, self._conn = self._conn, None
        if conn is not None:
            with translated("close the database"):
                try:
                    # Refreshes the planner's statistics where they went stale; cheap when nothing did.
                    conn.execute("PRAGMA optimize")
                finally:
                    conn.close()

    def _migrate(self, conn: sqlite3.Connection) -> None:
        with self._transaction(conn, "apply migrations"):
            conn.execute(CREATE_MIGRATIONS_TABLE)
            applied = {version for (version,) in conn.execute(SELECT_APPLIED_MIGRATIONS)}
            for migration in sql.load_migrations("sqlite"):
                if migration.version in applied:
                    continue
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                conn.execute(INSERT_APPLIED_MIGRATION, (migration.version, migration.name))

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError("The store is not open")
        return self._conn

    @staticmethod
    @contextmanager
    def _transaction(conn: sqlite3.Connection, action: str) -> Iterator[sqlite3.Connection]:
        """One transaction of its own, committed when the block ends (opening, before any group can be)."""
        with translated(action):
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _write(self, action: str) -> AbstractContextManager[sqlite3.Connection]:
        return self.commits.write(self._connection(), action)

    def _read(self, action: str) -> AbstractContextManager[sqlite3.Connection]:
        return self.commits.read(self._connection(), action)

    async def _read_beside_the_loop(self, action: str, read: Callable[[sqlite3.Connection], _R]) -> _R:
        """A read that can take long, in a reader thread (``sqlite_reads``); on the loop for ``:memory:``."""
        if self._reads is None:
            with self._read(action) as conn:
                return read(conn)
        return await self._reads.run(action, read)

    def _forget_uncommitted(self) -> None:
        """A group's COMMIT failed: what the caches learnt from its writes never happened."""
        self._runs.clear()
        self._tasks.clear()
        self._snapshots.forget_stored()

    # -- definitions ---------------------------------------------------------------

    @acknowledged_after_commit
    async def put_workflow_defs(self, defs: list[WorkflowDef], *, overwrite: bool) -> None:
        rows = [sql.workflow_def_row(d) for d in defs]
        with self._write("store workflow definitions") as conn:
            if overwrite:
                conn.executemany(UPSERT_WORKFLOW_DEF, rows)
                return
            for definition, row in zip(defs, rows, strict=True):
                if conn.execute(INSERT_WORKFLOW_DEF_NEW, row).rowcount == 0:
                    raise ConflictError(
                        f"Workflow definition {definition.name} version {definition.version} already exists"
                    )

    @acknowledged_after_commit
    async def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef | None:
        conn = self._connection()
        with translated("read a workflow definition"):
            if version is None:
                row = conn.execute(SELECT_LATEST_WORKFLOW_DEF, (name,)).fetchone()
            else:
                row = conn.execute(SELECT_WORKFLOW_DEF, (name, version)).fetchone()
        return None if row is None else sql.decode_workflow_def(row[0])

    @acknowledged_after_commit
    async def list_workflow_defs(self, name: str | None = None) -> list[WorkflowDef]:
        conn = self._connection()
        with translated("list workflow definitions"):
            if name is None:
                rows = conn.execute(SELECT_ALL_WORKFLOW_DEFS).fetchall()
            else:
                rows = conn.execute(SELECT_WORKFLOW_DEFS_OF, (name,)).fetchall()
        return [sql.decode_workflow_def(body) for (body,) in rows]

    @acknowledged_after_commit
    async def delete_workflow_def(self, name: str, version: int) -> bool:
        with self._write("delete a workflow definition") as conn:
            return conn.execute(DELETE_WORKFLOW_DEF, (name, version)).rowcount > 0

    @acknowledged_after_commit
    async def put_task_defs(self, defs: list[TaskDef], *, overwrite: bool = True) -> None:
        rows = [sql.task_def_row(d) for d in defs]
        with self._write("store task definitions") as conn:
            if overwrite:
                conn.executemany(UPSERT_TASK_DEF, rows)
                return
            for definition, row in zip(defs, rows, strict=True):
                if conn.execute(INSERT_TASK_DEF_NEW, row).rowcount == 0:
                    raise ConflictError(f"Task definition {definition.name} already exists")

    @acknowledged_after_commit
    async def get_task_defs(self, names: Collection[str]) -> dict[str, TaskDef]:
        if not names:
            return {}
        conn = self._connection()
        with translated("read task definitions"):
            rows = conn.execute(SELECT_TASK_DEFS, (json.dumps(list(names)),)).fetchall()
        found = [sql.decode_task_def(body) for (body,) in rows]
        return {d.name: d for d in found}

    @acknowledged_after_commit
    async def list_task_defs(self) -> list[TaskDef]:
        conn = self._connection()
        with translated("list task definitions"):
            rows = conn.execute(SELECT_ALL_TASK_DEFS).fetchall()
        return [sql.decode_task_def(body) for (body,) in rows]

    @acknowledged_after_commit
    async def delete_task_def(self, name: str) -> bool:
        with self._write("delete a task definition") as conn:
            return conn.execute(DELETE_TASK_DEF, (name,)).rowcount > 0

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
        large = sql.is_large(decision)
        if large:  # encoded a slice a turn, then written a slice a turn while the group is held
            plan = await sql.plan_new_run_in_turns(decision)
            await self.commits.wait_turn()
        else:
            plan = sql.plan_new_run(decision)
        digest, snapshot_body = self._snapshots.snapshot_of(definition)
        key = run.idempotency_key
        with self._write("create a run") as conn:
            if key:
                holder = self._take_key(conn, key, run.workflow_id, idempotency_strategy)
                if holder is not None:
                    return StartResult(workflow_id=holder, created=False)
            if not self._snapshots.is_stored(digest):
                conn.execute(INSERT_SNAPSHOT, (digest, snapshot_body))
            if conn.execute(INSERT_RUN, sql.run_insert_row(run, digest, definition)).rowcount == 0:
                raise ConflictError(f"Workflow {run.workflow_id} already exists")
            if large:
                async with self.commits.held():
                    for _ in self._task_writes(conn, plan, sql.TURN_TASKS):
                        await asyncio.sleep(0)
            else:
                self._write_tasks(conn, plan)
        self._snapshots.mark_stored(digest)
        # Its first decision then finds the run cached, its tasks at version 0.
        self._tasks.remember(plan, decision)
        cached = CachedRun.of([], [])
        cached.apply(decision, sql.written_sizes(plan))
        self._runs.put(run.workflow_id, cached)
        return StartResult(workflow_id=run.workflow_id, created=True)

    def _take_key(
        self, conn: sqlite3.Connection, key: str, workflow_id: str, strategy: IdempotencyStrategy | None
    ) -> str | None:
        """Give the key to ``workflow_id``, or the id of the run to return instead; ConflictError per strategy."""
        for _ in range(_MAX_KEY_ATTEMPTS):
            if conn.execute(TAKE_IDEMPOTENCY_KEY, (key, workflow_id)).rowcount == 1:
                return None
            holder_row = conn.execute(SELECT_KEY_HOLDER, (key,)).fetchone()
            if holder_row is None:
                continue
            holder: str = holder_row[0]
            status_row = conn.execute(SELECT_RUN_STATUS, (holder,)).fetchone()
            if status_row is None:
                continue
            outcome = sql.resolve_key_conflict(strategy, WorkflowStatus(status_row[0]))
            if outcome is sql.KeyOutcome.RETURN_EXISTING:
                return holder
            if outcome is sql.KeyOutcome.REFUSE:
                raise ConflictError(sql.key_conflict_message(key, holder))
            conn.execute(MOVE_IDEMPOTENCY_KEY, (workflow_id, key))
            return None
        raise StoreError(f"Could not settle idempotency key {key!r}")

    @acknowledged_after_commit
    async def transact(self, workflow_id: str, step: DecisionStep) -> Decision:
        """A large decision (``sql.is_large``) is encoded and written ``sql.TURN_TASKS`` tasks a turn, holding the
        group meanwhile (``CommitGroup.held``): still one transaction, and the loop is never held for all of it."""
        try:
            with self._write("record a decision") as conn:
                decision, loaded, definition, cached = self._step(conn, workflow_id, step)
                if decision.refusal is not None:
                    return decision
                if not sql.is_large(decision):
                    plan = sql.plan_decision(decision, workflow_id=workflow_id, loaded=loaded)
                    for _ in self._decision_writes(conn, decision, definition, plan, cached, None):
                        pass
                    return decision
                async with self.commits.held():
                    plan = await sql.plan_decision_in_turns(decision, workflow_id=workflow_id, loaded=loaded)
                    for _ in self._decision_writes(conn, decision, definition, plan, cached, sql.TURN_TASKS):
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
        plan = sql.plan_decision(decision, workflow_id=workflow_id, loaded=loaded)
        for _ in self._decision_writes(conn, decision, definition, plan, cached, None):
            pass
        return decision

    def _step(
        self, conn: sqlite3.Connection, workflow_id: str, step: DecisionStep
    ) -> tuple[Decision, LoadedTasks, WorkflowDef, CachedRun]:
        """The decision on the run as stored (or as cached), its tasks as loaded, its definition and its copy."""
        row = conn.execute(SELECT_RUN_FOR_DECISION, (workflow_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"No such workflow: {workflow_id}")
        body, digest = row
        definition = self._snapshot(conn, digest)
        cached = self._runs.get(workflow_id)
        if cached is None:
            cached = self._load_run(conn, workflow_id, body)
        run = sql.decode_run(body)
        run.tasks = list(cached.tasks)
        loaded = LoadedTasks(run.tasks, cached.position)
        return step(run, definition), loaded, definition, cached

    def _decision_writes(
        self,
        conn: sqlite3.Connection,
        decision: Decision,
        definition: WorkflowDef,
        plan: sql.WritePlan,
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
        conn.execute(UPDATE_RUN, sql.run_update_row(decision.workflow, decision.definition or definition))
        yield from self._task_writes(conn, plan, slice_rows)
        if plan.log_inserts:
            conn.executemany(INSERT_TASK_LOG, plan.log_inserts)
        self._tasks.remember(plan, decision)
        cached.apply(decision, sql.written_sizes(plan))
        self._runs.put(workflow_id, cached)  # counted anew

    def _load_run(self, conn: sqlite3.Connection, workflow_id: str, body: str) -> CachedRun:
        """Read a run's tasks in full (their versions, and the bodies ``sql.TaskCache`` lacks) and cache it."""
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
            definition = sql.decode_workflow_def(row[0])
            self._snapshots.put(digest, definition, len(row[0]))
        return definition

    @classmethod
    def _write_tasks(cls, conn: sqlite3.Connection, plan: sql.WritePlan) -> None:
        for _ in cls._task_writes(conn, plan, None):
            pass

    @staticmethod
    def _task_writes(conn: sqlite3.Connection, plan: sql.WritePlan, slice_rows: int | None) -> Iterator[None]:
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

    @acknowledged_after_commit
    async def get_run(
        self, workflow_id: str, *, include_tasks: bool = True, task_limit: int | None = None
    ) -> Workflow | None:
        def read(conn: sqlite3.Connection) -> Workflow | None:
            row = conn.execute(SELECT_RUN, (workflow_id,)).fetchone()
            if row is None:
                return None
            task_rows = []
            if include_tasks and task_limit is None:
                task_rows = conn.execute(SELECT_RUN_TASKS, (workflow_id,)).fetchall()
            elif include_tasks:
                task_rows = conn.execute(SELECT_RUN_TASKS_UP_TO, (workflow_id, task_limit)).fetchall()
            return sql.decode_run(row[0], (b for (b,) in task_rows))

        if include_tasks and task_limit is None and not self._known_to_be_small(workflow_id):
            return await self._read_beside_the_loop("read a run", read)
        with self._read("read a run") as conn:
            return read(conn)

    def _known_to_be_small(self, workflow_id: str) -> bool:
        """This process's copy of the run says it is read and decoded in a few milliseconds, on the loop."""
        cached = self._runs.peek(workflow_id)
        return cached is not None and len(cached.tasks) <= ON_LOOP_TASKS

    @acknowledged_after_commit
    async def get_run_json(self, workflow_id: str, task_limit: int) -> tuple[str, list[tuple[int, str]]] | None:
        with self._read("read a run") as conn:
            row = conn.execute(SELECT_RUN, (workflow_id,)).fetchone()
            if row is None:
                return None
            tasks: list[tuple[int, str]] = conn.execute(
                SELECT_RUN_TASKS_AFTER, (workflow_id, -1, task_limit)
            ).fetchall()
        return row[0], tasks

    @acknowledged_after_commit
    async def run_task_json_after(self, workflow_id: str, after_seq: int, limit: int) -> list[tuple[int, str]]:
        conn = self._connection()
        with translated("read a run's tasks"):
            rows: list[tuple[int, str]] = conn.execute(
                SELECT_RUN_TASKS_AFTER, (workflow_id, after_seq, limit)
            ).fetchall()
        return rows  # SQLite's bodies are always whole: written by encoding the task

    @acknowledged_after_commit
    async def run_tasks(
        self, workflow_id: str, *, start: int, count: int, statuses: Collection[str] = ()
    ) -> RunTaskPage | None:
        def read(conn: sqlite3.Connection) -> RunTaskPage | None:
            if conn.execute(SELECT_RUN_STATUS, (workflow_id,)).fetchone() is None:
                return None
            summary = {status: n for status, n in conn.execute(COUNT_RUN_TASKS_BY_STATUS, (workflow_id,))}
            wanted = json.dumps(sorted(set(statuses)))
            rows = conn.execute(SELECT_RUN_TASK_PAGE, (workflow_id, wanted, count, start)).fetchall()
            total = sum(n for status, n in summary.items() if not statuses or status in statuses)
            return RunTaskPage(total_hits=total, results=[sql.decode_task(body) for (body,) in rows], summary=summary)

        return await self._read_beside_the_loop("read a run's tasks", read)

    @acknowledged_after_commit
    async def get_run_definition(self, workflow_id: str) -> WorkflowDef | None:
        conn = self._connection()
        with translated("read a run's definition"):
            row = conn.execute(SELECT_RUN_SNAPSHOT, (workflow_id,)).fetchone()
        # Decoded afresh: the caller owns what it gets.
        return None if row is None else sql.decode_workflow_def(row[0])

    @acknowledged_after_commit
    async def find_runs_by_correlation(
        self, name: str, correlation_id: str, *, include_closed: bool, include_tasks: bool
    ) -> list[Workflow]:
        with self._read("find correlated runs") as conn:
            rows = conn.execute(SELECT_CORRELATED_RUNS, (name, correlation_id, include_closed)).fetchall()
            tasks: dict[str, list[str]] = {}
            if include_tasks and rows:
                ids = json.dumps([workflow_id for workflow_id, _ in rows])
                for workflow_id, body in conn.execute(SELECT_TASKS_OF_RUNS, (ids,)):
                    tasks.setdefault(workflow_id, []).append(body)
        return [sql.decode_run(body, tasks.get(workflow_id, ())) for workflow_id, body in rows]

    @acknowledged_after_commit
    async def delete_run(self, workflow_id: str) -> bool:
        """Its tasks go first, ``_DELETE_CHUNK`` at a time, each chunk committed in a turn of its own, so a run of
        100,000 tasks does not hold the event loop for the whole cascade; then the run row (and whatever is
        left of it, by the cascade). A decision on the run meanwhile finds some of its tasks gone."""
        self._forget_run(workflow_id)
        while True:
            with self._write("delete a run's tasks") as conn:
                task_ids = [
                    task_id for (task_id,) in conn.execute(SELECT_TASK_IDS_OF_RUN, (workflow_id, _DELETE_CHUNK))
                ]
                if task_ids:
                    conn.execute(DELETE_TASKS_BY_ID, (json.dumps(task_ids),))
            self._tasks.forget(task_ids)
            if len(task_ids) < _DELETE_CHUNK:
                break
            await self.commits.settled()
        with self._write("delete a run") as conn:
            deleted = conn.execute(DELETE_RUN, (workflow_id,)).rowcount > 0
        self._forget_run(workflow_id)
        return deleted

    def _forget_run(self, workflow_id: str) -> None:
        """Drop the copy of a run that is deleted, and its tasks' cache entries."""
        cached = self._runs.forget(workflow_id)
        if cached is not None:
            self._tasks.forget(cached.task_ids())

    @acknowledged_after_commit
    async def get_task(self, task_id: str) -> Task | None:
        conn = self._connection()
        with translated("read a task"):
            row = conn.execute(SELECT_TASK, (task_id,)).fetchone()
        return None if row is None else sql.decode_task(row[0])

    @acknowledged_after_commit
    async def workflow_id_of_task(self, task_id: str) -> str | None:
        conn = self._connection()
        with translated("read a task"):
            row = conn.execute(SELECT_WORKFLOW_ID_OF_TASK, (task_id,)).fetchone()
        return None if row is None else str(row[0])

    # -- task logs -------------------------------------------------------------------

    @acknowledged_after_commit
    async def add_task_logs(self, task_id: str, logs: Sequence[TaskExecLog]) -> bool:
        rows = [(task_id, log.created_time, sql.encode_log_line(log.log)) for log in logs]
        with self._write("add task logs") as conn:
            if conn.execute(SELECT_WORKFLOW_ID_OF_TASK, (task_id,)).fetchone() is None:
                return False
            conn.executemany(INSERT_TASK_LOG, rows)
        return True

    @acknowledged_after_commit
    async def get_task_logs(self, task_id: str) -> list[TaskExecLog] | None:
        conn = self._connection()
        with translated("read task logs"):
            rows = conn.execute(SELECT_TASK_LOGS, (task_id,)).fetchall()
        return sql.task_logs_of(task_id, rows)

    # -- queue and timers ------------------------------------------------------------

    @acknowledged_after_commit
    async def claim_tasks(
        self, task_type: str, *, worker_id: str | None, count: int, now: int, limits: ClaimLimits | None = None
    ) -> list[Task]:
        if count <= 0:
            return []
        try:
            with self._write("claim tasks") as conn:
                return self._claim(conn, task_type, worker_id, count, now, limits)
        except BaseException:
            self._runs.clear()  # a copy may hold a claim that was rolled back
            raise

    def _claim(
        self,
        conn: sqlite3.Connection,
        task_type: str,
        worker_id: str | None,
        count: int,
        now: int,
        limits: ClaimLimits | None = None,
    ) -> list[Task]:
        if limits is not None:
            # The single writer (BEGIN IMMEDIATE) serialises limited claims: the count cannot go stale.
            window_start = now - limits.window_ms
            conn.execute(PRUNE_CLAIM_LEDGER, (task_type, window_start))
            in_progress, in_window = conn.execute(COUNT_CLAIM_LEDGER, (task_type, window_start)).fetchone()
            count = limits.allowed(count, in_progress=in_progress, in_window=in_window)
            if count <= 0:
                return []
        rows = conn.execute(PICK_QUEUED, (task_type, now, count)).fetchall()
        if not rows:
            return []
        tasks = [sql.claimed(sql.decode_task(body), worker_id=worker_id, now=now) for _, body, _ in rows]
        conn.executemany(DELETE_QUEUE_BY_ID, [(queue_id,) for queue_id, _, _ in rows])
        conn.executemany(CLAIM_TASK, [sql.claim_update_row(t) for t in tasks])
        if limits is not None:
            conn.executemany(INSERT_CLAIM_LEDGER, [(task_type, t.task_id, now) for t in tasks])
        # The claim bumped each row's version by one: the next decision on the run finds them cached.
        for task, (_, body, version) in zip(tasks, rows, strict=True):
            self._tasks.claimed(task, version + 1, len(body))
            cached = self._runs.peek(task.workflow_instance_id)
            if cached is not None and not cached.claimed(task, version):
                self._runs.forget(task.workflow_instance_id)
        return tasks

    @acknowledged_after_commit
    async def queue_sizes(self, task_types: Collection[str] | None = None) -> dict[str, int]:
        conn = self._connection()
        with translated("count queued tasks"):
            if task_types is None:
                return {task_type: n for task_type, n in conn.execute(COUNT_QUEUED)}
            sizes = dict.fromkeys(task_types, 0)
            if sizes:
                sizes.update(conn.execute(COUNT_QUEUED_OF, (json.dumps(list(sizes)),)).fetchall())
            return sizes

    @acknowledged_after_commit
    async def due_timers(self, now: int, limit: int) -> list[DueTimer]:
        conn = self._connection()
        with translated("read due timers"):
            rows = conn.execute(SELECT_DUE_TIMERS, (now, limit)).fetchall()
        return [DueTimer(workflow_id=workflow_id, task_id=task_id) for workflow_id, task_id, _ in rows]

    # -- the outbox --------------------------------------------------------------------

    @acknowledged_after_commit
    async def signals_created_before(self, created_before: int, limit: int) -> list[Signal]:
        conn = self._connection()
        with translated("read the outbox"):
            rows = conn.execute(SELECT_SIGNALS_BEFORE, (created_before, limit)).fetchall()
        return [sql.decode_signal(body) for (body,) in rows]

    @acknowledged_after_commit
    async def delete_signal(self, signal_id: str) -> None:
        with self._write("delete a signal") as conn:
            conn.execute(DELETE_SIGNAL, (signal_id,))

    # -- search and retention --------------------------------------------------------

    @staticmethod
    def _search(
        conn: sqlite3.Connection, statements: search_sql.SearchStatements, request: SearchRequest
    ) -> tuple[int, list[str]]:
        bodies = [body for (body,) in conn.execute(statements.page.sql, statements.page.params)]
        counted = None
        if not search_sql.page_is_last(request.start, request.size, len(bodies)):
            counted = int(conn.execute(statements.count.sql, statements.count.params).fetchone()[0])
        return search_sql.total_hits(request.start, request.size, len(bodies), counted), bodies

    @acknowledged_after_commit
    async def search_runs(self, request: SearchRequest) -> RunPage:
        statements = search_sql.search_runs(search_sql.Dialect.SQLITE, request)

        def read(conn: sqlite3.Connection) -> RunPage:
            total, bodies = self._search(conn, statements, request)
            return RunPage(total_hits=total, results=[sql.decode_run(body) for body in bodies])

        return await self._read_beside_the_loop("search", read)

    @acknowledged_after_commit
    async def search_tasks(self, request: SearchRequest) -> TaskPage:
        statements = search_sql.search_tasks(search_sql.Dialect.SQLITE, request)

        def read(conn: sqlite3.Connection) -> TaskPage:
            total, bodies = self._search(conn, statements, request)
            return TaskPage(total_hits=total, results=[sql.decode_task(body) for body in bodies])

        return await self._read_beside_the_loop("search", read)

    @acknowledged_after_commit
    async def running_run_ids(
        self, name: str, *, version: int | None, start_from: int | None, start_to: int | None
    ) -> list[str]:
        statement = search_sql.running_run_ids(
            search_sql.Dialect.SQLITE, name, version=version, start_from=start_from, start_to=start_to
        )
        conn = self._connection()
        with translated("list running runs"):
            return [workflow_id for (workflow_id,) in conn.execute(statement.sql, statement.params)]

    @acknowledged_after_commit
    async def delete_finished_before(self, cutoff: int, limit: int) -> int:
        statement = search_sql.delete_finished_before(search_sql.Dialect.SQLITE, cutoff, limit)
        with self._write("delete finished runs") as conn:
            deleted = [workflow_id for (workflow_id,) in conn.execute(statement.sql + RETURNING_ID, statement.params)]
        for workflow_id in deleted:
            self._forget_run(workflow_id)
        return len(deleted)
