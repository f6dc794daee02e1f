"""What code written once for both stores runs its statements through; each store implements it.

The methods are coroutines on both stores. SQLite's never suspend (sqlite3 runs
on the event loop), so a ``write`` block there is still a unit that nothing else
in the process can enter, inside the commit group; PostgreSQL's go to asyncpg.
Driver errors leave a block as ``StoreError`` (each store translates its own).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol, TypeAlias

from baton.store.common.dialect import Dialect

Row: TypeAlias = Sequence[Any]


class Executor(Protocol):
    """Statements on one connection, in ``Dialect`` text with bound parameters."""

    async def fetchone(self, query: str, *args: Any) -> Row | None: ...

    async def fetchall(self, query: str, *args: Any) -> list[Row]: ...

    async def execute(self, query: str, *args: Any) -> int:
        """Run a statement; how many rows it changed."""
        ...

    async def executemany(self, query: str, rows: Iterable[Sequence[Any]]) -> None: ...


class Database(Protocol):
    """Where the code written once gets its connections; ``action`` names the work in error messages."""

    @property
    def dialect(self) -> Dialect: ...

    def read(self, action: str) -> AbstractAsyncContextManager[Executor]:
        """Reads. On SQLite they see one state (and the call returns once what they saw is committed)."""
        ...

    def long_read(self, action: str) -> AbstractAsyncContextManager[Executor]:
        """Reads that can take long (searches): they see one committed state and never hold the event loop
        (SQLite: on a reader's connection, each statement in a thread; PostgreSQL: as ``read``)."""
        ...

    def write(self, action: str) -> AbstractAsyncContextManager[Executor]:
        """Statements in one transaction: all commit, or none."""
        ...

    def write_one(self, action: str) -> AbstractAsyncContextManager[Executor]:
        """For one statement: PostgreSQL commits it on its own, without BEGIN and COMMIT round trips."""
        ...
