"""Reads that can take long (search, a large run's tasks), run beside the event loop.

Each runs on a read-only connection of a small pool, in a transaction of its own,
its statements in threads: WAL lets it read while the writer writes, and it sees
only what is committed, never the open commit group (``commits``), so what it
returns needs no COMMIT to wait for. sqlite3 releases the GIL while SQLite works.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from baton.store.common.database import Row
from baton.store.sqlite.commits import translated

_R = TypeVar("_R")

READ_CONNECTIONS = 2
"""Long reads at a time; more wait for a connection (the machine's cores are shared with the writer)."""


class ThreadedExecutor:
    """``common.database.Executor`` on a reader's connection: each statement in a thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def fetchone(self, query: str, *args: Any) -> Row | None:
        row: Row | None = await asyncio.to_thread(lambda: self._conn.execute(query, args).fetchone())
        return row

    async def fetchall(self, query: str, *args: Any) -> list[Row]:
        return await asyncio.to_thread(lambda: self._conn.execute(query, args).fetchall())

    async def execute(self, query: str, *args: Any) -> int:
        raise sqlite3.OperationalError("a long read does not write")

    async def executemany(self, query: str, rows: Iterable[Sequence[Any]]) -> None:
        raise sqlite3.OperationalError("a long read does not write")


class OffLoopReads:
    """A few read-only connections on one database file, lent to one long read at a time each."""

    def __init__(self, path: str, *, busy_timeout_ms: int, connections: int = READ_CONNECTIONS) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._slots = asyncio.Semaphore(connections)
        self._idle: list[sqlite3.Connection] = []
        self._abandoned: list[sqlite3.Connection] = []

    async def run(self, action: str, read: Callable[[sqlite3.Connection], _R]) -> _R:
        """``read(conn)`` in a thread, inside one read transaction; driver errors become StoreError."""
        async with self._lent() as conn:
            return await asyncio.to_thread(self._in_transaction, conn, action, read)

    @asynccontextmanager
    async def transaction(self, action: str) -> AsyncIterator[ThreadedExecutor]:
        """Statements that see one committed state, each run in a thread."""
        async with self._lent() as conn:
            with translated(action):
                await asyncio.to_thread(conn.execute, "BEGIN")
                try:
                    yield ThreadedExecutor(conn)
                except asyncio.CancelledError:
                    raise  # a statement may still run: ``_lent`` abandons the connection, its transaction with it
                except BaseException:
                    await asyncio.to_thread(conn.execute, "ROLLBACK")
                    raise
                await asyncio.to_thread(conn.execute, "COMMIT")

    @staticmethod
    def _in_transaction(conn: sqlite3.Connection, action: str, read: Callable[[sqlite3.Connection], _R]) -> _R:
        with translated(action):
            conn.execute("BEGIN")
            try:
                return read(conn)
            finally:
                conn.execute("COMMIT")

    @asynccontextmanager
    async def _lent(self) -> AsyncIterator[sqlite3.Connection]:
        async with self._slots:
            conn = self._idle.pop() if self._idle else await asyncio.to_thread(self._connect)
            try:
                yield conn
            except asyncio.CancelledError:
                # Its thread may still be reading: stop the statement, and never lend the connection again.
                conn.interrupt()
                self._abandoned.append(conn)
                raise
            self._idle.append(conn)

    def _connect(self) -> sqlite3.Connection:
        with translated("open a reader's connection"):
            # check_same_thread=False: it is used from whichever thread runs the read, one at a time.
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA query_only = ON")
        return conn

    async def close(self) -> None:
        """Close every reader's connection (the store closes once no call is in flight)."""
        connections = self._idle + self._abandoned
        self._idle, self._abandoned = [], []
        for conn in connections:
            await asyncio.to_thread(conn.close)
