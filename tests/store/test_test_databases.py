"""``baton.store.testing``: a released test database comes back as a fresh one would be, or not at all.

A database handed back with ``release_test_database`` is given to the process's next ``create_test_database``
only emptied (no row, sequences restarted) and of the template's shape; one whose shape a test changed is dropped.
"""

from __future__ import annotations

import asyncio

import asyncpg

from baton.store.testing import create_test_database, drop_test_database, postgres_admin_url, release_test_database

INSERT_ENTRY = (
    "INSERT INTO audit_log (at, actor, action, target_kind, target_id, detail)"
    " VALUES (1, 'a', 'b', 'c', 'd', 'e') RETURNING seq"
)


def _sql(url: str, *statements: str) -> list[object]:
    """Each statement's first value, on one connection."""

    async def run() -> list[object]:
        conn = await asyncpg.connect(url)
        try:
            return [await conn.fetchval(statement) for statement in statements]
        finally:
            await conn.close()

    return asyncio.run(run())


def _exists(url: str) -> bool:
    name = url.rsplit("/", 1)[1]
    return bool(_sql(postgres_admin_url(), f"SELECT count(*) FROM pg_database WHERE datname = '{name}'")[0])


def test_a_released_database_comes_back_empty_with_its_sequences_restarted() -> None:
    url = create_test_database()
    assert _sql(url, INSERT_ENTRY, INSERT_ENTRY) == [1, 2]
    release_test_database(url)
    again = create_test_database()
    try:
        assert again == url  # the same database, handed out again
        assert _sql(again, "SELECT count(*) FROM audit_log", INSERT_ENTRY) == [0, 1]
        assert _sql(again, "SELECT count(*) FROM schema_migrations")[0] != 0  # still migrated
    finally:
        drop_test_database(again)


def test_a_database_whose_shape_changed_is_dropped_not_handed_out() -> None:
    url = create_test_database()
    _sql(url, "ALTER TABLE audit_log ADD COLUMN extra TEXT")
    release_test_database(url)
    assert not _exists(url)
    fresh = create_test_database()
    try:
        assert fresh != url
        assert _sql(fresh, INSERT_ENTRY) == [1]
    finally:
        drop_test_database(fresh)


def test_connections_left_on_a_released_database_are_closed() -> None:
    url = create_test_database()

    async def hold_and_release() -> bool:
        conn = await asyncpg.connect(url)
        await conn.execute("BEGIN")
        await conn.fetchval(INSERT_ENTRY)  # holds a row lock in an open transaction
        await asyncio.to_thread(release_test_database, url)
        closed = conn.is_closed() or not await _answers(conn)
        await conn.close()
        return closed

    assert asyncio.run(hold_and_release())
    again = create_test_database()
    try:
        assert _sql(again, "SELECT count(*) FROM audit_log") == [0]
    finally:
        drop_test_database(again)


async def _answers(conn: asyncpg.Connection) -> bool:
    try:
        await conn.fetchval("SELECT 1")
    except (asyncpg.PostgresError, asyncpg.InterfaceError, ConnectionError):
        return False
    return True
