"""PostgreSQL's plumbing: the three pools, error translation, the store's state and one-statement helpers."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from baton.errors import StoreError
from baton.store.common import caches, migrations
from baton.store.common.database import Database
from baton.store.common.run_cache import KnownRun, RunCache, RunTurns
from baton.store.postgres.database import PoolAcquireContext, PostgresDatabase, _acquire, _rowcount, _translated
from baton.store.postgres.queries import (
    CREATE_MIGRATIONS_TABLE,
    INSERT_APPLIED_MIGRATION,
    MIGRATION_LOCK,
    SELECT_APPLIED_MIGRATIONS,
)

_MAX_ATTEMPTS = 10

_BY_KEY_SETTINGS = {
    "plan_cache_mode": "force_generic_plan",
    "enable_seqscan": "off",
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
}
"""The decision and claim pools' connections plan each statement once, by its indexes.

By default PostgreSQL plans a prepared statement's first five executions for
their parameters, then keeps a generic plan if its estimated cost is no higher
than theirs, until the next ANALYZE of a table it reads. Both halves hurt the
hot path. For WRITE_DECISION the comparison falls either way on a connection's
first decisions, and a connection on which it fell for custom plans plans the
statement again at every decision, for more than the rest of the statement
costs (1-2 connections in 10 in runs of W1). And a plan made while the tables
are small (a fresh database: each new connection's first statements) may scan
a table whole and join by hashing, which stays cheap only while the table does.
Every statement on these pools finds its rows by key (a run, its tasks, a
queue's head, a snapshot), so their connections plan each statement once, with the
parameters unknown, and without sequential scans, hash or merge joins unless
nothing else can run it: index lookups in nested loops, whatever the tables'
sizes when it was planned. Searches, whose best plans do depend on their
parameters and on the tables, stay on the main pool with the defaults.
"""


def _args(names: tuple[str, ...], params: dict[str, Any]) -> list[Any]:
    """The values of ``params`` in the ``$n`` order of a statement's ``names``."""
    return [params[name] for name in names]


def split_connect_timeout(url: str) -> tuple[str, float | None]:
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


class PostgresConnection:
    """The pools and the per-process copies every part of ``PostgresStore`` works with."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        open_timeout: float = 30.0,
        snapshot_cache_size: int = 512,
        run_cache_size: int = 4096,
        run_cache_bytes: int = 64 << 20,
    ) -> None:
        """``url``: a postgresql:// URL (asyncpg takes no key=value DSN); ``min_size``/``max_size``: the decision
        pool's bounds (the main and claim pools hold at most half as many, at least 2 and 1); ``open_timeout``:
        seconds ``open`` waits for the first connections; ``run_cache_size``: how many runs this process keeps a
        copy of to decide on without reading them (``KnownRun``); ``run_cache_bytes``: what those copies, and the
        decoded task bodies (``caches.BodyCache``), may hold each, by their encoded bodies' length."""
        self._url, self._connect_timeout = split_connect_timeout(url)
        self._min_size = min_size
        self._max_size = max_size
        self._open_timeout = open_timeout
        self._pool: asyncpg.Pool | None = None
        self._decision_pool: asyncpg.Pool | None = None
        self._claim_pool: asyncpg.Pool | None = None
        self._task_bodies = caches.BodyCache(run_cache_bytes)
        self._known: RunCache[KnownRun] = RunCache(run_cache_bytes, max_runs=run_cache_size)
        self._turns = RunTurns()
        self._snapshots = caches.SnapshotCache(snapshot_cache_size)
        self._db: Database = PostgresDatabase(lambda: self._pool)

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
        started: list[asyncpg.Pool] = []

        async def start(pool: asyncpg.Pool) -> asyncpg.Pool:
            started.append(pool)
            async with asyncio.timeout(self._open_timeout):
                await pool
            return pool

        with _translated("connect"):
            try:
                self._pool = await start(self._new_pool(min_size=self._min_size, max_size=max(2, self._max_size // 2)))
                await self._migrate()
                # Starts and decisions: a handful of statements, each planned once per connection (see
                # _BY_KEY_SETTINGS).
                self._decision_pool = await start(
                    self._new_pool(min_size=self._min_size, max_size=self._max_size, server_settings=_BY_KEY_SETTINGS)
                )
                # Stand-alone claims only: their commits need not wait for the WAL flush (see the module's docstring).
                self._claim_pool = await start(
                    self._new_pool(
                        min_size=1,
                        max_size=max(1, self._max_size // 2),
                        server_settings={**_BY_KEY_SETTINGS, "synchronous_commit": "off"},
                    )
                )
            except BaseException:
                self._pool = self._decision_pool = self._claim_pool = None
                # A pool whose start failed has closed itself already; terminate() then does nothing.
                for pool in reversed(started):
                    pool.terminate()
                raise

    async def close(self) -> None:
        pools = [self._claim_pool, self._decision_pool, self._pool]
        self._pool = self._decision_pool = self._claim_pool = None
        for pool in pools:
            if pool is not None:
                await pool.close()

    async def _migrate(self) -> None:
        async with self._connection() as conn, conn.transaction():
            await conn.execute(MIGRATION_LOCK)
            await conn.execute(CREATE_MIGRATIONS_TABLE)
            applied = {version for (version,) in await conn.fetch(SELECT_APPLIED_MIGRATIONS)}
            for migration in migrations.load_migrations("postgres"):
                if migration.version in applied:
                    continue
                # No arguments: asyncpg sends the file as one simple query, all its statements at once.
                await conn.execute(migration.sql)
                await conn.execute(INSERT_APPLIED_MIGRATION, migration.version, migration.name)

    def _connection(self) -> PoolAcquireContext:
        return _acquire(self._pool)

    def _claim_connection(self) -> PoolAcquireContext:
        """For stand-alone claims only: their commits do not wait for the WAL flush."""
        return _acquire(self._claim_pool)

    def _decision_connection(self) -> PoolAcquireContext:
        """For ``create_run`` and decisions only (see _BY_KEY_SETTINGS)."""
        return _acquire(self._decision_pool)

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
