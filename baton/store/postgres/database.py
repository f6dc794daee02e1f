"""``common.database.Database`` on asyncpg: what the code written once for both stores runs on."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from typing import Any

import asyncpg

from baton.errors import StoreError
from baton.store.common.database import Row
from baton.store.common.dialect import Dialect


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Driver errors leave the store as StoreError; Baton's own errors pass unchanged."""
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise StoreError(f"PostgreSQL failed to {action}: {exc}") from exc


def _rowcount(status: str) -> int:
    """The row count of a command status such as ``INSERT 0 1`` or ``DELETE 3``."""
    count = status.rpartition(" ")[2]
    return int(count) if count.isdigit() else 0


PoolAcquireContext = AbstractAsyncContextManager[asyncpg.Connection]


def _acquire(pool: asyncpg.Pool | None) -> PoolAcquireContext:
    """A connection of ``pool`` for an ``async with`` (asyncpg's own context, not wrapped: it is on every path)."""
    if pool is None:
        raise StoreError("The store is not open")
    acquired: PoolAcquireContext = pool.acquire()
    return acquired


class PostgresExecutor:
    """Statements on one pooled connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def fetchone(self, query: str, *args: Any) -> Row | None:
        row: asyncpg.Record | None = await self._conn.fetchrow(query, *args)
        return row

    async def fetchall(self, query: str, *args: Any) -> list[Row]:
        rows: list[asyncpg.Record] = await self._conn.fetch(query, *args)
        return list(rows)

    async def execute(self, query: str, *args: Any) -> int:
        return _rowcount(await self._conn.execute(query, *args))

    async def executemany(self, query: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._conn.executemany(query, rows)


class PostgresDatabase:
    """Connections of the main pool (PostgreSQL's default planning: searches depend on it)."""

    dialect = Dialect.POSTGRES

    def __init__(self, pool: Callable[[], asyncpg.Pool | None]) -> None:
        self._pool = pool

    @asynccontextmanager
    async def read(self, action: str) -> AsyncIterator[PostgresExecutor]:
        with _translated(action):
            async with _acquire(self._pool()) as conn:
                yield PostgresExecutor(conn)

    @asynccontextmanager
    async def write(self, action: str) -> AsyncIterator[PostgresExecutor]:
        with _translated(action):
            async with _acquire(self._pool()) as conn, conn.transaction():
                yield PostgresExecutor(conn)

    def long_read(self, action: str) -> AbstractAsyncContextManager[PostgresExecutor]:
        return self.read(action)  # asyncpg waits for PostgreSQL without holding the loop

    def write_one(self, action: str) -> AbstractAsyncContextManager[PostgresExecutor]:
        return self.read(action)  # outside a transaction, asyncpg commits each statement on its own
