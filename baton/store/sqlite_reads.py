"""Reads that can take long (search, a large run's task pages), run beside the event loop.

Each runs in a thread of a small pool on a read-only connection of that thread's own,
in a transaction of its own: WAL lets it read while the writer writes, and it sees
only what is committed, never the open commit group (``sqlite_commits``), so what it
returns needs no COMMIT to wait for. sqlite3 releases the GIL while SQLite works.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from baton.store.sqlite_commits import translated

_R = TypeVar("_R")

READ_THREADS = 2
"""Reads at a time; more wait for a thread (the machine's cores are shared with the writer)."""


class OffLoopReads:
    """A pool of reader threads on one database file, each with its own read-only connection."""

    def __init__(self, path: str, *, busy_timeout_ms: int, threads: int = READ_THREADS) -> None:
        self._path = path
        self._busy_timeout_ms = busy_timeout_ms
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="baton-sqlite-read")
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    async def run(self, action: str, read: Callable[[sqlite3.Connection], _R]) -> _R:
        """``read(conn)`` in a reader thread, inside one read transaction; driver errors become StoreError."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._read, action, read)

    def _read(self, action: str, read: Callable[[sqlite3.Connection], _R]) -> _R:
        with translated(action):
            conn = self._connection()
            conn.execute("BEGIN")
            try:
                return read(conn)
            finally:
                conn.execute("COMMIT")

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            # check_same_thread=False only so that close() may close it from the loop's thread.
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def close(self) -> None:
        """Wait for the reads in flight, then close every reader's connection."""
        self._executor.shutdown(wait=True)
        with self._lock:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()
