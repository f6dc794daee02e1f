"""The SQLite store's WAL: checkpointed beside the event loop without ever locking its writer out, and its file
cut back after a long reader let it grow.

A real store on a real file; a second connection plays a long reader (a search, a backup) or another writer.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from baton.store.sqlite import SqliteStore
from baton.store.sqlite.checkpoints import Checkpointer, checkpoint
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(60)

LIMIT = 256 << 10


def _wal_bytes(path: Path) -> int:
    return os.path.getsize(f"{path}-wal")


async def _start_runs(store: SqliteStore, prefix: str, count: int) -> None:
    for number in range(count):
        run = make_run(f"{prefix}-{number}", correlation_id="x" * 2_000)
        await start(store, run, [make_task(run, f"{prefix}-t-{number}")])


def test_a_checkpoint_never_waits_for_the_writer_nor_makes_it_wait(tmp_path: Path) -> None:
    """Every checkpoint but PASSIVE takes the write lock while it copies the log, so the event loop's next BEGIN
    IMMEDIATE would wait for it (a 20,000-task run's log took over 100 ms). With another connection writing, a
    checkpoint here still runs, and reports it was not kept out."""
    path = tmp_path / "baton.db"
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("PRAGMA journal_mode = WAL")
    writer.execute("CREATE TABLE items (body TEXT)")
    writer.executemany("INSERT INTO items VALUES (?)", [("x" * 1_000,) for _ in range(5_000)])
    checkpointer = sqlite3.connect(path, isolation_level=None)
    checkpointer.execute("PRAGMA busy_timeout = 0")
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("INSERT INTO items VALUES ('held')")
        assert checkpoint(checkpointer).busy is False
        writer.execute("COMMIT")
    finally:
        checkpointer.close()
        writer.close()


async def test_the_wal_file_is_cut_back_once_a_long_reader_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "baton.db"
    store = SqliteStore(str(path), journal_size_limit_bytes=LIMIT)
    await store.open()
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        await _start_runs(store, "before", 10)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM runs").fetchone()  # holds its snapshot: the log cannot start over
        await _start_runs(store, "during", 400)
        assert _wal_bytes(path) > 4 * LIMIT
        reader.execute("COMMIT")
        for attempt in range(100):  # the checkpointer runs every 0.1 s; the write after it starts the log over
            await asyncio.sleep(0.05)
            await _start_runs(store, f"after-{attempt}", 1)
            if _wal_bytes(path) <= LIMIT:
                break
        assert _wal_bytes(path) <= LIMIT
    finally:
        reader.close()
        await store.close()


async def _until_checkpointed(store: SqliteStore, after_rounds: int) -> int:
    """Wait for checkpoint rounds past ``after_rounds``, then for them to stop (the log copied whole): no round in
    0.8 s, eight intervals."""
    seen, quiet = after_rounds, 0
    for _ in range(60):
        await asyncio.sleep(0.2)
        rounds, seen = seen, store.checkpoint_rounds
        quiet = quiet + 1 if seen > after_rounds and seen == rounds else 0
        if quiet == 4:
            return seen
    pytest.fail(f"checkpoints did not start and stop after round {after_rounds}: {store.checkpoint_rounds} rounds")


async def test_writes_are_checkpointed_and_an_idle_store_makes_no_checkpoints(tmp_path: Path) -> None:
    """A checkpoint follows a COMMIT within the interval; a store nothing writes to does not wake up for one."""
    path = tmp_path / "baton.db"
    store = SqliteStore(str(path))
    await store.open()
    try:
        await _start_runs(store, "first", 20)
        rounds = await _until_checkpointed(store, 0)
        await asyncio.sleep(0.6)  # six intervals
        assert store.checkpoint_rounds == rounds, "an idle store checkpointed"
        await _start_runs(store, "second", 20)
        assert await _until_checkpointed(store, rounds) > rounds
    finally:
        await store.close()


def test_a_checkpointer_stopped_while_commits_arrive_always_stops(tmp_path: Path) -> None:
    """``stop`` lands at any moment of a round, commits arriving meanwhile: the thread ends every time (a stop whose
    wake-up was cleared by the round it interrupted once left ``close`` waiting forever)."""
    path = tmp_path / "baton.db"
    with sqlite3.connect(path) as setup:
        setup.execute("PRAGMA journal_mode = WAL")
        setup.execute("CREATE TABLE items (body TEXT)")
    hung = 0
    for _ in range(300):
        checkpointer = Checkpointer(str(path), interval_s=0.0005)
        checkpointer.start()
        for _ in range(20):
            checkpointer.note_commit()
            time.sleep(0.0002)
        stopping = threading.Thread(target=checkpointer.stop, daemon=True)
        stopping.start()
        stopping.join(2)
        hung += stopping.is_alive()
    assert hung == 0, f"{hung} of 300 checkpointers did not stop"
