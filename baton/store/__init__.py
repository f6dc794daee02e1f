"""Everything durable, behind one interface by role (``roles.py``): SQLite for one machine, PostgreSQL past it.

``open_store(url)`` picks the implementation by the URL's scheme::

    sqlite:///baton.db          a file, relative to the working directory
    sqlite:////var/lib/baton.db an absolute path (four slashes, as in SQLAlchemy)
    sqlite://                   a private in-memory database (also sqlite:///:memory:)
    baton.db                    a bare path: a SQLite file
    postgresql://user@host/db   PostgreSQL (postgres:// too)
"""

from __future__ import annotations

from baton.store.base import (
    TOTAL_HITS_CAP,
    ClaimAfter,
    ClaimLimits,
    ClaimRequest,
    DecisionStep,
    DueTimer,
    RunPage,
    RunPosition,
    RunTaskPage,
    SearchRequest,
    StartResult,
    TaskPage,
    WaitingTask,
)
from baton.store.roles import (
    AuditStore,
    DecisionStore,
    DefinitionStore,
    EventHandlerStore,
    OutboxStore,
    PollDataStore,
    QueueStore,
    RunStore,
    SearchStore,
    SecretStore,
    Store,
    TaskLogStore,
    WaitStore,
    WebhookStore,
)

__all__ = [
    "TOTAL_HITS_CAP",
    "AuditStore",
    "ClaimAfter",
    "ClaimLimits",
    "ClaimRequest",
    "DecisionStep",
    "DecisionStore",
    "DefinitionStore",
    "DueTimer",
    "EventHandlerStore",
    "OutboxStore",
    "PollDataStore",
    "QueueStore",
    "RunPage",
    "RunPosition",
    "RunStore",
    "RunTaskPage",
    "SearchRequest",
    "SearchStore",
    "SecretStore",
    "StartResult",
    "Store",
    "TaskLogStore",
    "TaskPage",
    "WaitStore",
    "WaitingTask",
    "WebhookStore",
    "open_store",
]


def open_store(url: str, *, pool_min_size: int = 1, pool_max_size: int = 10, run_cache_bytes: int = 64 << 20) -> Store:
    """The store for ``url``, not yet opened: call ``await store.open()``.

    ``pool_min_size`` and ``pool_max_size`` bound PostgreSQL's connection pool;
    SQLite ignores them (it uses one connection). ``run_cache_bytes`` bounds each
    per-process cache of runs and tasks (``Settings.run_cache_bytes``).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        from baton.store.sqlite import SqliteStore

        return SqliteStore(url, run_cache_bytes=run_cache_bytes)
    scheme = scheme.lower()
    if scheme == "sqlite":
        from baton.store.sqlite import SqliteStore

        if rest in ("", "/:memory:"):
            return SqliteStore(":memory:", run_cache_bytes=run_cache_bytes)
        if not rest.startswith("/") or rest == "/":
            raise ValueError(f"Not a SQLite URL: {url!r} (use sqlite:///relative.db or sqlite:////absolute.db)")
        return SqliteStore(rest[1:], run_cache_bytes=run_cache_bytes)
    if scheme in ("postgresql", "postgres"):
        from baton.store.postgres import PostgresStore

        return PostgresStore(url, min_size=pool_min_size, max_size=pool_max_size, run_cache_bytes=run_cache_bytes)
    raise ValueError(f"Unknown database URL scheme {scheme!r} in {url!r}: use sqlite:/// or postgresql://")
