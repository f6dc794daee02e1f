"""Group commit on SQLite: one COMMIT for the writes of a turn, each acknowledged only once it is durable.

The group is driven on a real SQLite file; a second connection plays another
process, which sees only what is committed. The statements the group's
connection runs are traced, so the tests count its BEGINs and COMMITs.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from baton.errors import StoreError
from baton.store import open_store
from baton.store.sqlite.commits import CommitGroup
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(30)


class Database:
    def __init__(self, path: Path) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        self.conn.executescript(
            """
            CREATE TABLE items (id INTEGER PRIMARY KEY);
            CREATE TABLE parents (id INTEGER PRIMARY KEY);
            CREATE TABLE children (parent INTEGER REFERENCES parents (id) DEFERRABLE INITIALLY DEFERRED);
            """
        )
        self.observer = sqlite3.connect(path, isolation_level=None)
        self.statements: list[str] = []
        self.conn.set_trace_callback(self.statements.append)
        self.losses = 0
        self.foreign_commits = 0
        self.group = CommitGroup(on_lost=self.lost, on_foreign_commit=self.foreign_commit)

    def lost(self) -> None:
        self.losses += 1

    def foreign_commit(self) -> None:
        self.foreign_commits += 1

    def seen_by_another_connection(self) -> list[int]:
        return [item for (item,) in self.observer.execute("SELECT id FROM items ORDER BY id")]

    def count(self, statement: str) -> int:
        return sum(1 for text in self.statements if text == statement)

    async def insert(self, item: int) -> None:
        with self.group.write(self.conn, "insert an item"):
            self.conn.execute("INSERT INTO items (id) VALUES (?)", (item,))
        await self.group.settled()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(tmp_path / "group.db")
    yield database
    database.conn.close()
    database.observer.close()


async def test_writes_made_in_one_turn_share_one_commit(db: Database) -> None:
    async def insert_and_look(item: int) -> list[int]:
        with db.group.write(db.conn, "insert an item"):
            db.conn.execute("INSERT INTO items (id) VALUES (?)", (item,))
        before = db.seen_by_another_connection()
        await db.group.settled()
        return before

    seen_before = await asyncio.gather(*(insert_and_look(item) for item in range(1, 6)))

    assert seen_before == [[]] * 5  # no write was visible before its COMMIT
    assert db.seen_by_another_connection() == [1, 2, 3, 4, 5]
    assert (db.count("BEGIN IMMEDIATE"), db.count("COMMIT")) == (1, 1)


async def test_writes_in_later_turns_get_commits_of_their_own(db: Database) -> None:
    await db.insert(1)
    await db.insert(2)

    assert db.seen_by_another_connection() == [1, 2]
    assert (db.count("BEGIN IMMEDIATE"), db.count("COMMIT")) == (2, 2)


async def test_a_commit_through_another_connection_is_reported_when_the_lock_is_next_taken(db: Database) -> None:
    await db.insert(1)
    await db.insert(2)
    assert db.foreign_commits == 0  # its own commits are not foreign

    db.observer.execute("INSERT INTO items (id) VALUES (3)")
    await db.insert(4)
    await db.insert(5)

    assert db.foreign_commits == 1
    assert db.seen_by_another_connection() == [1, 2, 3, 4, 5]


async def test_a_failing_write_is_rolled_back_alone(db: Database) -> None:
    outcomes = await asyncio.gather(db.insert(1), db.insert(1), db.insert(2), return_exceptions=True)

    assert outcomes[0] is None and outcomes[2] is None
    assert isinstance(outcomes[1], StoreError) and "UNIQUE" in str(outcomes[1])
    assert db.seen_by_another_connection() == [1, 2]
    assert db.count("COMMIT") == 1
    assert db.losses == 0


async def test_a_failing_first_write_rolls_back_and_the_next_opens_a_new_group(db: Database) -> None:
    await db.insert(1)

    outcomes = await asyncio.gather(db.insert(1), db.insert(2), return_exceptions=True)

    assert isinstance(outcomes[0], StoreError) and outcomes[1] is None
    assert db.seen_by_another_connection() == [1, 2]
    assert db.count("ROLLBACK") == 1
    assert db.losses == 0


async def test_a_commit_that_fails_fails_every_write_in_it_and_reports_the_loss(db: Database) -> None:
    async def orphan() -> None:
        with db.group.write(db.conn, "insert an orphan"):
            # The foreign key is deferred: the statement passes, the COMMIT refuses.
            db.conn.execute("INSERT INTO children (parent) VALUES (42)")
        await db.group.settled()

    outcomes = await asyncio.gather(db.insert(1), orphan(), db.insert(2), return_exceptions=True)

    assert [type(outcome) for outcome in outcomes] == [StoreError] * 3
    assert "FOREIGN KEY" in str(outcomes[0])
    assert db.seen_by_another_connection() == []
    assert db.observer.execute("SELECT count(*) FROM children").fetchone() == (0,)
    assert db.losses == 1
    assert not db.conn.in_transaction

    await db.insert(3)
    assert db.seen_by_another_connection() == [3]


async def test_a_caller_that_leaves_does_not_take_the_commit_with_it(db: Database) -> None:
    leaving = asyncio.create_task(db.insert(1))
    staying = asyncio.create_task(db.insert(2))
    await asyncio.sleep(0)  # both wrote and now wait for the COMMIT
    leaving.cancel()

    await staying
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert db.seen_by_another_connection() == [1, 2]


async def test_a_read_in_an_open_group_sees_its_writes_and_waits_for_them(db: Database) -> None:
    async def read() -> list[int]:
        with db.group.read(db.conn, "read items"):
            rows = [item for (item,) in db.conn.execute("SELECT id FROM items")]
        await db.group.settled()
        assert db.seen_by_another_connection() == rows  # nothing was handed out before it was durable
        return rows

    _, rows = await asyncio.gather(db.insert(7), read())

    assert rows == [7]


async def test_the_store_answers_concurrent_starts_only_once_another_connection_sees_them(tmp_path: Path) -> None:
    path = tmp_path / "baton.db"
    store = open_store(f"sqlite:///{path}")
    await store.open()
    observer = sqlite3.connect(path, isolation_level=None)
    try:

        async def start_and_look(number: int) -> tuple[int, int]:
            run = make_run(f"wf-{number}")
            await start(store, run, [make_task(run, f"t-{number}")])
            key = (run.workflow_id,)
            (runs,) = observer.execute("SELECT count(*) FROM runs WHERE workflow_id = ?", key).fetchone()
            (tasks,) = observer.execute("SELECT count(*) FROM tasks WHERE workflow_id = ?", key).fetchone()
            return runs, tasks

        assert await asyncio.gather(*(start_and_look(number) for number in range(20))) == [(1, 1)] * 20
    finally:
        observer.close()
        await store.close()
