"""``common.database.Database`` on sqlite3, in the commit group: what the code written once for both stores runs on.

Each block waits its turn first and, once done, for the group's COMMIT (as
``commits.acknowledged_after_commit`` does for a whole call): nothing read or
written is acknowledged before it is durable.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager, asynccontextmanager
from typing import Any

from baton.store.common.database import Executor, Row
from baton.store.common.dialect import Dialect
from baton.store.sqlite.commits import CommitGroup
from baton.store.sqlite.off_loop import OffLoopReads


class SqliteExecutor:
    """Statements on the store's connection; none suspends, so a block of them is never interleaved."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def fetchone(self, query: str, *args: Any) -> Row | None:
        row: Row | None = self._conn.execute(query, args).fetchone()
        return row

    async def fetchall(self, query: str, *args: Any) -> list[Row]:
        return self._conn.execute(query, args).fetchall()

    async def execute(self, query: str, *args: Any) -> int:
        return self._conn.execute(query, args).rowcount

    async def executemany(self, query: str, rows: Iterable[Sequence[Any]]) -> None:
        self._conn.executemany(query, rows)


class SqliteDatabase:
    """The store's one connection, through its commit group."""

    dialect = Dialect.SQLITE

    def __init__(
        self,
        connection: Callable[[], sqlite3.Connection],
        commits: CommitGroup,
        off_loop: Callable[[], OffLoopReads | None],
    ) -> None:
        self._connection = connection
        self._commits = commits
        self._off_loop = off_loop

    def read(self, action: str) -> AbstractAsyncContextManager[SqliteExecutor]:
        return self._acknowledged(self._commits.read(self._connection(), action))

    def long_read(self, action: str) -> AbstractAsyncContextManager[Executor]:
        """On a reader's connection, beside the loop; on the store's own for ``:memory:`` (it has no readers)."""
        reads = self._off_loop()
        return self.read(action) if reads is None else reads.transaction(action)

    def write(self, action: str) -> AbstractAsyncContextManager[SqliteExecutor]:
        return self._acknowledged(self._commits.write(self._connection(), action))

    def write_one(self, action: str) -> AbstractAsyncContextManager[SqliteExecutor]:
        return self.write(action)

    @asynccontextmanager
    async def _acknowledged(self, block: AbstractContextManager[sqlite3.Connection]) -> AsyncIterator[SqliteExecutor]:
        """``block`` (the group's read or write) once no write holds the group; done once the group committed."""
        await self._commits.wait_turn()
        with block as conn:
            yield SqliteExecutor(conn)
        await self._commits.settled()
