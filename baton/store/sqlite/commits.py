"""Group commit for the SQLite store: the writes made in one turn of the event loop share one COMMIT.

A COMMIT in WAL mode appends every page its transaction changed to the log, and
the background checkpoint later copies each of them into the database file.
Writes that land together touch mostly the same pages (the queue's index, the
tail of the tasks table), so committing them together writes those pages once.

How it works: the first write of a turn opens the transaction (``BEGIN
IMMEDIATE``) and schedules its COMMIT as the first callback of the next turn;
every later write runs in a SAVEPOINT of its own, so a write that fails is
rolled back alone and the others stand (the first one, failing, rolls the
transaction back and closes the group: nothing else can have joined it yet).
Nothing is acknowledged before it is durable: every store call that ran while a
group was open, read or write, awaits ``settled()`` before it returns, because
what it saw is not committed yet. When the COMMIT fails, every call waiting on
it fails, and ``on_lost`` lets the store drop what it cached from the lost
writes; when another connection has committed since this one last wrote,
``on_foreign_commit`` lets it drop what it cached of the file; ``on_committed`` follows each COMMIT that
went through (the store's checkpointer waits for one).

A write too large for one turn (a decision on a run of 100,000 tasks) holds the
group across turns (``held``): it writes a slice, lets the loop turn, writes the
next. Meanwhile every other store call waits at its start (``acknowledged_after_commit``
calls ``wait_turn``) and the group's COMMIT waits for the hold to end, so no
call sees or commits half of that write, and the loop keeps serving whatever
does not need the store. Its COMMIT, which writes every page of that write to the
log, runs in a thread with the group still held (``_commit_held``): nothing else
uses the connection until it is done.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from baton.errors import StoreError

log = logging.getLogger(__name__)

_P = ParamSpec("_P")
_R = TypeVar("_R")


@contextmanager
def translated(action: str) -> Iterator[None]:
    """Driver errors leave the store as StoreError; Baton's own errors pass unchanged."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StoreError(f"SQLite failed to {action}: {exc}") from exc


class _Group:
    """One open transaction, and how its COMMIT went."""

    __slots__ = ("committed", "conn", "error")

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.committed = False
        self.error: StoreError | None = None


class CommitGroup:
    """The open group of writes on one connection, and the COMMIT they wait for."""

    def __init__(
        self,
        on_lost: Callable[[], None],
        on_foreign_commit: Callable[[], None],
        on_committed: Callable[[], None] = lambda: None,
    ) -> None:
        self._on_lost = on_lost
        self._on_foreign_commit = on_foreign_commit
        self._on_committed = on_committed
        self._data_version: int | None = None
        self._group: _Group | None = None
        self._lost: StoreError | None = None
        """Set when a failed write took the whole transaction with it (SQLite does so on I/O errors)."""
        self._free: asyncio.Event | None = None
        """Cleared while a write holds the group across turns (``held``); made on first use, on the loop."""
        self._held_commit: asyncio.Task[None] | None = None

    async def wait_turn(self) -> None:
        """Return once no write holds the group across turns (at once when none does)."""
        while self._free is not None and not self._free.is_set():
            await self._free.wait()

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """Inside a write: keep every other store call and the COMMIT out while the block awaits between slices."""
        if self._free is None:
            self._free = asyncio.Event()
        free = self._free
        free.clear()
        try:
            yield
        finally:
            if self._group is None:
                free.set()
            else:
                # Starts next turn, once the write around this block has ended (released or rolled back).
                self._held_commit = asyncio.get_running_loop().create_task(self._commit_held(self._group, free))

    @property
    def _holding(self) -> bool:
        return self._free is not None and not self._free.is_set()

    @contextmanager
    def write(self, conn: sqlite3.Connection, action: str) -> Iterator[sqlite3.Connection]:
        """One write, in the open group (opening one if none is): rolled back alone if the block raises."""
        with translated(action):
            if self._lost is not None:
                raise StoreError(f"Could not {action}: {self._lost}")
            if self._group is None:
                conn.execute("BEGIN IMMEDIATE")
                self._check_data_version(conn)
                group = self._group = _Group(conn)
                # Committed a turn from now, whatever happens to the callers.
                asyncio.get_running_loop().call_soon(self._commit, group)
                # The first write needs no savepoint: until it ends nothing else can join.
                try:
                    yield conn
                except BaseException:
                    self._group = None
                    group.committed = True  # nothing is left to commit
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
                return
            conn.execute("SAVEPOINT write")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK TO write")
                    conn.execute("RELEASE write")
                else:
                    self._lost = StoreError(f"an earlier write in the same commit failed to {action}")
                raise
            conn.execute("RELEASE write")

    def _check_data_version(self, conn: sqlite3.Connection) -> None:
        """Tell the store when another connection committed since this one last held the write lock.

        SQLite's ``data_version`` changes with every commit made through another
        connection (another process on the file, the CLI) and with none of this
        one's; read under the write lock, nobody can commit until the group does.
        """
        (version,) = conn.execute("PRAGMA data_version").fetchone()
        if self._data_version is not None and version != self._data_version:
            self._on_foreign_commit()
        self._data_version = version

    @contextmanager
    def read(self, conn: sqlite3.Connection, action: str) -> Iterator[sqlite3.Connection]:
        """Several SELECTs that see one state: the open group's transaction, or one of their own."""
        with translated(action):
            if self._group is not None:
                yield conn
                return
            conn.execute("BEGIN")
            try:
                yield conn
            finally:
                conn.execute("COMMIT")

    async def settled(self) -> None:
        """Return once the open group, if any, is committed; raise StoreError if its COMMIT failed.

        The COMMIT is the first callback of the next turn (scheduled when the group
        opened, before any caller could get here), so a caller yields a turn and finds
        it done (or does it then itself); nothing is shared between callers, so one
        that is cancelled takes nothing from the rest.
        """
        group = self._group
        if group is None:
            return
        await asyncio.sleep(0)
        await self.wait_turn()
        self._commit(group)
        if group.error is not None:
            raise group.error

    def commit(self) -> None:
        """Commit the open group now, if one is open (``close`` does, before the connection goes)."""
        if self._group is not None:
            self._commit(self._group)

    def _commit(self, group: _Group) -> None:
        if group.committed or self._holding:
            return  # held: the hold's end commits it
        self._group = None
        lost, self._lost = self._lost, None
        try:
            if lost is not None:
                raise lost
            with translated("commit"):
                group.conn.execute("COMMIT")
            self._on_committed()
        except StoreError as exc:
            self._roll_back(group, exc)
        finally:
            group.committed = True

    async def _commit_held(self, group: _Group, free: asyncio.Event) -> None:
        """Commit a held write's group in a thread, then end the hold; the loop serves others meanwhile."""
        try:
            if group.committed:
                return  # the write failed and rolled the group back
            self._group = None
            lost, self._lost = self._lost, None
            try:
                if lost is not None:
                    raise lost
                with translated("commit"):
                    await asyncio.to_thread(group.conn.execute, "COMMIT")
                self._on_committed()
            except StoreError as exc:
                self._roll_back(group, exc)
            finally:
                group.committed = True
        finally:
            self._held_commit = None
            free.set()

    def _roll_back(self, group: _Group, error: StoreError) -> None:
        """After a failed COMMIT: end the transaction, fail its callers, let the store drop what it cached."""
        try:
            if group.conn.in_transaction:
                group.conn.execute("ROLLBACK")
        except sqlite3.Error as rollback_error:
            log.error("SQLite could not roll back a failed commit: %s", rollback_error)
        finally:
            group.error = error
            self._on_lost()


class _HasCommits(Protocol):
    @property
    def commits(self) -> CommitGroup: ...


_S = TypeVar("_S", bound=_HasCommits)


def acknowledged_after_commit(
    method: Callable[Concatenate[_S, _P], Coroutine[Any, Any, _R]],
) -> Callable[Concatenate[_S, _P], Coroutine[Any, Any, _R]]:
    """A store call returns only once what it wrote, or read uncommitted, is committed."""

    @functools.wraps(method)
    async def call(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        await self.commits.wait_turn()
        result = await method(self, *args, **kwargs)
        await self.commits.settled()
        return result

    return call
