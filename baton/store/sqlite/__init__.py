"""The embedded store: one SQLite file in WAL mode, through the standard library's ``sqlite3``.

``store.SqliteStore`` puts the parts together: ``decisions`` and ``claims`` (the
hot path, in the commit group of ``commits``), ``reads``, ``connection`` (the
connection, its pragmas, migrations), ``checkpoints`` and ``queries``. Why it
runs on the event loop: docs/design.md, "The store".
"""

from __future__ import annotations

from baton.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
