"""The store on PostgreSQL, through asyncpg: the hot path (starts, decisions, claims) written for it.

``store.PostgresStore`` puts the parts together: ``starts``, ``decisions`` and
``claims`` (the hot path), ``reads``, ``slices`` (large writes), ``connection``
(pools, error translation), ``queries`` and ``params`` (statements and their
arguments). How they stay out of each other's way: docs/design.md, "The store".
"""

from __future__ import annotations

from baton.store.postgres.connection import split_connect_timeout
from baton.store.postgres.store import PostgresStore

__all__ = ["PostgresStore", "split_connect_timeout"]
