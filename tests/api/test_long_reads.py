"""A long SQLite read leaves the event loop free: /health answers while a search reads every run of a large file.

The runs are written straight into the file (``baton.store.sqlite.bulk``) before the server starts; each
search asks for a word no run holds, so SQLite reads every run's input. A prober in another process asks
/health every 50 ms meanwhile. Before such reads ran in a reader thread (``store/sqlite_reads.py``),
/health waited for the whole search.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from baton.store import open_store
from baton.store.sqlite.bulk import fill_runs
from tests.api.health_prober import HealthProber
from tests.conftest import ServerProcess

pytestmark = [pytest.mark.timeout(300), pytest.mark.serial]

RUNS = 300_000
HEALTH_BOUND = 0.1
"""Seconds, as in test_hostile: the loop is free, but the machine is shared."""
SEARCHING_SECONDS = 3.0


def migrated_file_with_runs(path: Path, runs: int) -> str:
    url = f"sqlite:///{path}"

    async def migrate() -> None:
        store = open_store(url)
        await store.open()
        await store.close()

    asyncio.run(migrate())
    fill_runs(str(path), runs)
    return url


def test_health_answers_while_a_search_reads_every_run(tmp_path: Path) -> None:
    url = migrated_file_with_runs(tmp_path / "large.db", RUNS)
    server = ServerProcess(url, tmp_path / "server.log")
    server.start()
    try:
        with server.client(timeout=120) as http, HealthProber(server.url) as prober:
            # A word with a quote is looked for in each run's parsed input, not first in its body's text
            # (store/common/search.py): the slowest search there is, the longest read.
            params = {"freeText": 'no-run-holds-"this"-word', "start": 0, "size": 10}
            began = time.monotonic()
            slowest = 0.0
            while time.monotonic() - began < SEARCHING_SECONDS:
                started = time.monotonic()
                response = http.get("/api/workflow/search", params=params)
                slowest = max(slowest, time.monotonic() - started)
                assert response.status_code == 200, response.text
                assert response.json() == {"totalHits": 0, "results": []}
            ended = time.monotonic()
            found = http.get("/api/workflow/search", params={"freeText": "order-123456", "size": 10}).json()
        assert found["totalHits"] == 1, found
        assert slowest > 2 * HEALTH_BOUND, f"a search took {slowest:.3f} s: too fast to show the loop is free"
        prober.assert_worst_below(HEALTH_BOUND, since=began, until=ended)
    finally:
        server.stop()
