"""SQLite's plumbing: the connection and its pragmas, migrations, the commit group, the store's state."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from baton.errors import StoreError
from baton.store.common import caches, migrations
from baton.store.common.database import Database
from baton.store.common.run_cache import CachedRun, RunCache
from baton.store.sqlite.checkpoints import JOURNAL_SIZE_LIMIT_BYTES, Checkpointer
from baton.store.sqlite.commits import CommitGroup, translated
from baton.store.sqlite.database import SqliteDatabase
from baton.store.sqlite.off_loop import OffLoopReads
from baton.store.sqlite.queries import CREATE_MIGRATIONS_TABLE, INSERT_APPLIED_MIGRATION, SELECT_APPLIED_MIGRATIONS

_DELETE_CHUNK = 1000
"""Tasks deleted per write when a run is removed (see ``delete_run``)."""


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


class SqliteConnection:
    """The connection, the commit group and the per-process copies every part of ``SqliteStore`` works with."""

    def __init__(
        self,
        path: str,
        *,
        busy_timeout_ms: int = 5000,
        snapshot_cache_size: int = 512,
        run_cache_bytes: int = 64 << 20,
        journal_size_limit_bytes: int = JOURNAL_SIZE_LIMIT_BYTES,
    ) -> None:
        """``run_cache_bytes``: what the copies of runs and the decoded tasks this process keeps may hold each, by
        their encoded bodies' length (``RunCache``, ``caches.TaskCache``). ``journal_size_limit_bytes``: what the
        WAL file is cut back to when the log starts over."""
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._journal_size_limit_bytes = journal_size_limit_bytes
        self._conn: sqlite3.Connection | None = None
        self._checkpointer: Checkpointer | None = None
        self._off_loop: OffLoopReads | None = None
        self._snapshots = caches.SnapshotCache(snapshot_cache_size)
        self._tasks = caches.TaskCache(run_cache_bytes)
        self._runs: RunCache[CachedRun] = RunCache(run_cache_bytes)
        self.commits = CommitGroup(
            on_lost=self._forget_uncommitted, on_foreign_commit=self._runs.clear, on_committed=self._note_commit
        )
        self._db: Database = SqliteDatabase(self._connection, self.commits, lambda: self._off_loop)

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
                    # No checkpoint inside our COMMITs (it would fsync on the event loop): Checkpointer does them.
                    conn.execute("PRAGMA wal_autocheckpoint = 0")
                    conn.execute(f"PRAGMA journal_size_limit = {int(self._journal_size_limit_bytes)}")
                    self._checkpointer = Checkpointer(self._path)
                    self._checkpointer.start()
                    self._off_loop = OffLoopReads(self._path, busy_timeout_ms=self._busy_timeout_ms)
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
        off_loop, self._off_loop = self._off_loop, None
        if off_loop is not None:
            await off_loop.close()
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
            for migration in migrations.load_migrations("sqlite"):
                if migration.version in applied:
                    continue
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                conn.execute(INSERT_APPLIED_MIGRATION, (migration.version, migration.name))

    @property
    def checkpoint_rounds(self) -> int:
        """How many background WAL checkpoints ran since the store opened (for tests and diagnostics)."""
        return 0 if self._checkpointer is None else self._checkpointer.rounds

    def _note_commit(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.note_commit()

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

    def _forget_uncommitted(self) -> None:
        """A group's COMMIT failed: what the caches learnt from its writes never happened."""
        self._runs.clear()
        self._tasks.clear()
        self._snapshots.forget_stored()
