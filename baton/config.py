"""One typed configuration object, read from ``BATON_*`` environment variables and CLI flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

DEFAULT_DATABASE_URL = "sqlite:///baton.db"


@dataclass(frozen=True, kw_only=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    """Where runs live: ``sqlite:///path.db`` (the default, ``./baton.db``) or ``postgresql://...``."""
    host: str = "127.0.0.1"
    """Address ``baton serve`` listens on."""
    port: int = 8080
    """Port ``baton serve`` listens on."""
    max_body_bytes: int = 1024 * 1024
    """Largest request body accepted; larger ones get 413."""
    script_timeout_ms: int = 1000
    """Wall-clock bound on one inline script (INLINE, SWITCH javascript)."""
    script_memory_bytes: int = 32 * 1024 * 1024
    """Heap bound on the JavaScript engine running inline scripts."""
    sweep_interval_ms: int = 200
    """How often the sweeper looks for due timers (expired leases, WAIT tasks)."""
    max_poll_timeout_ms: int = 30_000
    """Upper bound on a worker's long-poll ``timeout``."""
    max_poll_count: int = 1000
    """Upper bound on a worker's batch-poll ``count``."""
    max_wait_for_seconds: int = 300
    """Upper bound on a sync execute's ``waitForSeconds``."""
    load_examples: bool = False
    """Register the bundled example workflows at start (kept if they exist)."""
    definition_cache_seconds: float = 2.0
    """How long a resolved definition (with its task definitions) is reused by starts in this process."""
    server_task_lease_seconds: int = 30
    """Lease of a task the server runs itself (HTTP, EVENT, SUB_WORKFLOW, START_WORKFLOW): if the server
    running it dies, another (or the restarted one) takes it up again after this. HTTP calls are cut off
    before it runs out."""
    executor_concurrency: int = 32
    """How many server-run tasks (HTTP calls, webhook posts, workflow starts) one process runs at once."""
    outbox_relay_after_ms: int = 2000
    """A signal to another run (a child's result for its parent, a child to terminate, a failure workflow
    to start) not acted on this long after its decision is taken up by any server's relay."""
    retention_days: float = 0.0
    """Finished runs (by end time) older than this many days are deleted with their tasks; 0 keeps them forever."""
    retention_interval_ms: int = 60_000
    """How often the retention loop looks for finished runs to delete (when ``retention_days`` is set)."""
    run_cache_bytes: int = 64 * 1024 * 1024
    """Bytes (by encoded JSON length) each per-process cache of runs may hold: the copies of runs kept to decide
    without reading them, and the decoded tasks; a run larger than this is read for each decision instead."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Defaults, then ``BATON_<FIELD>`` variables, then the non-None ``overrides``."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"BATON_{f.name.upper()}")
            if raw is None:
                continue
            if f.type == "bool":
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif f.type == "int":
                values[f.name] = int(raw)
            elif f.type == "float":
                values[f.name] = float(raw)
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)
