"""A fresh PostgreSQL database per test, cloned from a migrated template.

For test suites (the store's own, the API's, anyone's)::

    url = create_test_database()      # postgresql://.../baton_test_<random>, migrated, empty
    try:
        store = open_store(url)
        ...
    finally:
        drop_test_database(url)

Environment:

``BATON_TEST_POSTGRES_URL``
    A URL for a role that may ``CREATE DATABASE``; its database is only used to
    issue ``CREATE``/``DROP DATABASE``. Default
    ``postgresql://postgres@127.0.0.1:5432/test``.

The template (``baton_template_<pid>_<random>``) is migrated once per process and
dropped when the process exits; cloning it costs a file copy instead of a
migration run per test. An unreachable PostgreSQL raises
``PostgresUnavailableError`` with what to do about it: tests fail, never skip.

A suite that is done with a database hands it back with ``release_test_database`` instead of dropping it: when
it still has the template's shape (tables, columns, indexes, constraints, functions, triggers, migrations) and
stayed small, its rows are deleted and its sequences restarted, it is checked empty, and the next
``create_test_database`` of the process gets it. That costs PostgreSQL a few DELETEs instead of a
``CREATE DATABASE`` (two checkpoints and a file copy) and a ``DROP DATABASE``: a tenth of the CPU. Anything else
(another shape, more than ``RECYCLE_MAX_BYTES``, rows left after the DELETEs, an error) drops it.

The functions are synchronous (they block while ``CREATE DATABASE`` copies the
template, a fraction of a second); async fixtures may call them directly. They
talk to PostgreSQL through asyncpg, as the store does, each on a thread and
event loop of its own, so they work whether or not the caller is inside a
running loop.
Databases of a process that was killed are left behind: they are named
``baton_test_*`` and ``baton_template_*`` and safe to drop.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import functools
import os
import secrets
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from graphlib import TopologicalSorter
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg

DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/test"
TEST_DATABASE_PREFIX = "baton_test_"
_CONNECT_TIMEOUT_S = 5

__all__ = [
    "DEFAULT_ADMIN_URL",
    "PostgresUnavailableError",
    "create_test_database",
    "drop_test_database",
    "postgres_admin_url",
    "release_test_database",
]

RECYCLE_MAX_BYTES = 16 << 20
"""A released database larger than this is dropped, not emptied: its deleted rows would stay behind as dead tuples
that the next test's queries scan (the template is about 9 MB)."""

_SHAPE = """
SELECT md5(string_agg(item, E'\\n' ORDER BY item)) FROM (
    SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' '
        || a.attnotnull || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
    LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL SELECT 'relation ' || relname || ' ' || relkind::text
    FROM pg_class WHERE relnamespace = 'public'::regnamespace
    UNION ALL SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL SELECT 'constraint ' || conrelid::regclass::text || ' ' || conname || ' ' || pg_get_constraintdef(oid)
    FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL SELECT 'function ' || oid::regprocedure::text || ' ' || md5(prosrc)
    FROM pg_proc WHERE pronamespace = 'public'::regnamespace
    UNION ALL SELECT 'trigger ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL SELECT 'sequence ' || sequencename || ' ' || start_value || ' ' || increment_by
    FROM pg_sequences WHERE schemaname = 'public'
    UNION ALL SELECT 'schema ' || nspname FROM pg_namespace
    WHERE nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'
    UNION ALL SELECT 'extension ' || extname FROM pg_extension
    UNION ALL SELECT 'migration ' || version::text FROM schema_migrations
    UNION ALL SELECT 'setting ' || array_to_string(setconfig, ',') FROM pg_db_role_setting
    WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
) AS shape(item)
"""
"""A digest of what a migrated database is made of (not of its rows): a recycled database must match the
template's."""

_spares: list[str] = []
"""Emptied databases of this process, handed out again by ``create_test_database``."""
_spares_lock = threading.Lock()

_T = TypeVar("_T")


class PostgresUnavailableError(RuntimeError):
    """The PostgreSQL the tests need cannot be reached."""


def postgres_admin_url() -> str:
    """``BATON_TEST_POSTGRES_URL``, else the local default."""
    return os.environ.get("BATON_TEST_POSTGRES_URL") or DEFAULT_ADMIN_URL


def create_test_database() -> str:
    """An empty, migrated database of its own for one test (an emptied one this process released, else a new
    one); its URL."""
    with _spares_lock:
        spare = _spares.pop() if _spares else None
    if spare is not None:
        return _url_with_database(postgres_admin_url(), spare)
    name = f"{TEST_DATABASE_PREFIX}{secrets.token_hex(6)}"
    # FILE_COPY: for a small template, copying its files beats WAL-logging every block.
    _run_admin(f"CREATE DATABASE {_quoted(name)} TEMPLATE {_quoted(_template_database())} STRATEGY FILE_COPY")
    return _url_with_database(postgres_admin_url(), name)


def drop_test_database(url: str) -> None:
    """Drop a database made by ``create_test_database``, closing any connections still on it."""
    name = _database_of(url)
    if not name.startswith(TEST_DATABASE_PREFIX):
        raise ValueError(f"Refusing to drop {name!r}: not a test database")
    _drop(name)


def release_test_database(url: str) -> None:
    """Done with a database made by ``create_test_database``: emptied for this process's next one if it still has
    the template's shape and stayed small, else dropped. Connections still on it are closed first."""
    name = _database_of(url)
    if not name.startswith(TEST_DATABASE_PREFIX):
        raise ValueError(f"Refusing to release {name!r}: not a test database")
    try:
        emptied = _run_on_own_loop(lambda: _empty(url))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
        emptied = False
    if not emptied:
        _drop(name)
        return
    with _spares_lock:
        _spares.append(name)


@dataclass(frozen=True)
class _Template:
    shape: str
    """``_SHAPE`` of the template."""
    tables: list[str]
    """Its tables but ``schema_migrations``, each after the tables whose foreign keys point at it."""
    sequences: list[str]


@functools.cache
def _template() -> _Template:
    async def read() -> _Template:
        conn = await asyncpg.connect(_url_with_database(postgres_admin_url(), _template_database()))
        try:
            tables = [row[0] for row in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
            referencing: dict[str, set[str]] = {table: set() for table in tables if table != "schema_migrations"}
            for child, parent in await conn.fetch(
                "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint"
                " WHERE contype = 'f' AND connamespace = 'public'::regnamespace"
            ):
                if child != parent and parent in referencing:
                    referencing[parent].add(child)
            sequences = [
                row[0] for row in await conn.fetch("SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'")
            ]
            shape = await conn.fetchval(_SHAPE)
        finally:
            await conn.close()
        return _Template(shape, list(TopologicalSorter(referencing).static_order()), sequences)

    return _run_on_own_loop(read)


async def _empty(url: str) -> bool:
    """Deletes every row of the database at ``url`` and restarts its sequences; False (and nothing deleted) when it
    is not of the template's shape or too large, or when a row is left."""
    template = _template()
    dsn, timeout = _split(url)
    conn = await asyncpg.connect(dsn, timeout=timeout or _CONNECT_TIMEOUT_S)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        if await conn.fetchval("SELECT pg_database_size(current_database())") > RECYCLE_MAX_BYTES:
            return False
        if await conn.fetchval(_SHAPE) != template.shape:
            return False
        async with conn.transaction():
            for table in template.tables:
                await conn.execute(f"DELETE FROM {_quoted(table)}")
            for sequence in template.sequences:
                await conn.execute(f"ALTER SEQUENCE {_quoted(sequence)} RESTART")
            left = " UNION ALL ".join(f"(SELECT 1 FROM {_quoted(table)} LIMIT 1)" for table in template.tables)
            if left and await conn.fetchval(f"SELECT count(*) FROM ({left}) AS rows_left"):
                raise _RowsLeft
        return True
    except _RowsLeft:
        return False
    finally:
        await conn.close()


class _RowsLeft(Exception):
    """A DELETE's trigger wrote a row elsewhere: the transaction is rolled back and the database dropped."""


def _drop_spares() -> None:
    with _spares_lock:
        names = list(_spares)
        _spares.clear()
    for name in names:
        _drop_quietly(name)


atexit.register(_drop_spares)


def _drop(name: str) -> None:
    _run_admin(f"DROP DATABASE IF EXISTS {_quoted(name)} WITH (FORCE)")


@functools.cache
def _template_database() -> str:
    """Made and migrated on first use in this process; dropped at exit."""
    name = f"baton_template_{os.getpid()}_{secrets.token_hex(4)}"
    _run_admin(f"CREATE DATABASE {_quoted(name)}")
    atexit.register(_drop_quietly, name)
    _migrate(_url_with_database(postgres_admin_url(), name))
    return name


def _drop_quietly(name: str) -> None:
    with contextlib.suppress(Exception):  # at exit, best effort: a leftover template is harmless
        _drop(name)


def _migrate(url: str) -> None:
    """Apply Baton's migrations through the store itself."""
    from baton.store.postgres import PostgresStore

    async def migrate() -> None:
        store = PostgresStore(url, min_size=1, max_size=1)
        await store.open()
        await store.close()

    _run_on_own_loop(migrate)


def _split(url: str) -> tuple[str, float | None]:
    from baton.store.postgres import split_connect_timeout

    return split_connect_timeout(url)


def _run_admin(statement: str) -> None:
    url = postgres_admin_url()
    dsn, timeout = _split(url)

    async def run() -> None:
        try:
            conn = await asyncpg.connect(dsn, timeout=timeout or _CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise PostgresUnavailableError(
                f"PostgreSQL is not reachable at {_redacted(url)}: {exc}\n"
                "The tests need it and never skip it. Start it (scripts/ensure-postgres), "
                "or point BATON_TEST_POSTGRES_URL at a role that may CREATE DATABASE."
            ) from exc
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    _run_on_own_loop(run)


def _run_on_own_loop(work: Callable[[], Coroutine[Any, Any, _T]]) -> _T:
    """``asyncio.run(work())`` on a thread of its own: its result, or its exception raised here."""
    outcome: list[_T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            outcome.append(asyncio.run(work()))
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="baton-test-database")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def _quoted(name: str) -> str:
    """``name`` as an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def _database_of(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def _url_with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
