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
from typing import Any
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
]


class PostgresUnavailableError(RuntimeError):
    """The PostgreSQL the tests need cannot be reached."""


def postgres_admin_url() -> str:
    """``BATON_TEST_POSTGRES_URL``, else the local default."""
    return os.environ.get("BATON_TEST_POSTGRES_URL") or DEFAULT_ADMIN_URL


def create_test_database() -> str:
    """Create an empty, migrated database of its own for one test; its URL."""
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


def _run_admin(statement: str) -> None:
    from baton.store.postgres import split_connect_timeout

    url = postgres_admin_url()
    dsn, timeout = split_connect_timeout(url)

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


def _run_on_own_loop(work: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """``asyncio.run(work())`` on a thread of its own; its exception, if any, is raised here."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(work())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="baton-test-database")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


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
