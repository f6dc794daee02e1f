"""Numbered migrations: applied at open, once; replaying them on an up-to-date database changes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from baton.errors import StoreError
from baton.store import open_store
from baton.store.common.migrations import load_migrations
from baton.store.sqlite import SqliteStore
from tests.store.store_builders import make_run, start

pytestmark = pytest.mark.timeout(60)

EXPECTED_TABLES = {
    "schema_migrations",
    "workflow_defs",
    "task_defs",
    "definition_snapshots",
    "runs",
    "tasks",
    "poll_data",
    "queue",
    "idempotency_keys",
    "task_claims",
    "outbox",
    "task_logs",
    "event_handlers",
    "event_executions",
    "triggers",
    "ballerine_entities",
    "cases",
    "case_decisions",
    "case_filters",
    "webhooks",
    "webhook_run_states",
    "webhook_run_subscriptions",
    "audit_log",
    "webhook_deliveries",
    "webhook_attempts",
    "applications",
    "access_keys",
    "access_settings",
    "secrets",
    "step_durations",
}


def _sqlite_schema(url: str) -> tuple[set[str], list[Any], list[Any]]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
        objects = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name"
        ).fetchall()
        migrations = conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    conn.close()
    tables = {name for kind, name, _ in objects if kind == "table"}
    return tables, objects, migrations


async def _postgres_schema(url: str) -> tuple[set[str], list[Any], list[Any]]:
    conn = await asyncpg.connect(url)
    try:
        columns = await conn.fetch(
            """SELECT table_name, column_name, data_type, is_nullable, column_default
               FROM information_schema.columns WHERE table_schema = 'public'
               ORDER BY table_name, ordinal_position"""
        )
        indexes = await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname"
        )
        migrations = await conn.fetch("SELECT version, name FROM schema_migrations ORDER BY version")
    finally:
        await conn.close()
    tables = {row[0] for row in columns}
    return tables, [tuple(row) for row in (*columns, *indexes)], [tuple(row) for row in migrations]


async def _schema(url: str) -> tuple[set[str], list[Any], list[Any]]:
    return _sqlite_schema(url) if url.startswith("sqlite") else await _postgres_schema(url)


async def test_migrations_apply_once(store_url: str) -> None:
    dialect = "sqlite" if store_url.startswith("sqlite") else "postgres"

    first = open_store(store_url)
    await first.open()
    await start(first, make_run())
    await first.close()
    tables, objects, applied = await _schema(store_url)

    again = open_store(store_url)
    await again.open()
    assert await again.get_run("wf-1") is not None
    await again.close()

    assert tables == EXPECTED_TABLES
    assert applied == [(m.version, m.name) for m in load_migrations(dialect)]
    assert await _schema(store_url) == (tables, objects, applied)


def test_both_dialects_have_the_same_migrations() -> None:
    sqlite, postgres = load_migrations("sqlite"), load_migrations("postgres")
    assert [(m.version, m.name) for m in sqlite] == [(m.version, m.name) for m in postgres]
    # Numbers are handed out ahead of time, so one may land before a lower one: increasing, not gap-free.
    versions = [m.version for m in sqlite]
    assert versions[0] == 1 and versions == sorted(set(versions))


async def test_sqlite_file_settings(tmp_path: Path) -> None:
    path = tmp_path / "baton.db"
    store = SqliteStore(str(path))
    await store.open()
    try:
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        conn.close()
    finally:
        await store.close()


async def test_sqlite_unopenable_file_is_a_store_error(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "missing-dir" / "baton.db"))
    with pytest.raises(StoreError):
        await store.open()
    with pytest.raises(StoreError, match="not open"):
        await store.get_run("x")
