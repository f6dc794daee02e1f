"""Memory returns: a real ``baton serve`` that starts, terminates and removes large runs over and over levels off.

The server's resident set (``VmRSS`` in ``/proc/<pid>/status``) is read after
each cycle. Python keeps freed memory for reuse rather than handing it back, so
what is asserted is a plateau: once the caches are full, later cycles add little.
Before the caches were bounded by bytes and forgot removed runs, every cycle
added what the run's copy took (3 to 4 MB a 5,000-branch run, twice that for
this test's 10,000).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.helpers import dynamic_fork_steps, register

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]

BRANCHES = 10_000
CYCLES = 12
PLATEAU_MARGIN_MB = 20.0
"""What the last half of the cycles may add in all: about three cycles' worth before."""
NEW_HIGH_MB = 4.0
"""A cycle whose RSS passes every earlier one's by more than this set a new high: about half of what one cycle
would leak if a run's copy stayed (7 MB), above the one or two MB a noisy cycle adds to the last high."""
MOST_NEW_HIGHS = 2
"""How many of the last half's cycles may set a new high when they add more than the margin: a process's RSS
also steps up now and then and stays (an allocator arena, a pool connection's buffers; in CI once
191 -> 261 MB in one cycle, then flat; once 235 -> 246 -> 262 -> 264 on a loaded machine), while what a cycle
leaks raises every later cycle's, even after an early spike (three of six, then more)."""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS line")


@pytest.fixture
def small_cache_server(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[ServerProcess, httpx.Client]]:
    """A server whose run caches may hold 16 MiB, so that a few runs of this size fill them.

    Its resolver hands every start the same definition for the whole test: a fresh
    one per start would leave a fork's branches in ``engine/forks._memo`` for each,
    which the dynamic fork test below is about, not the run caches.
    """
    monkeypatch.setenv("BATON_RUN_CACHE_BYTES", str(16 << 20))
    monkeypatch.setenv("BATON_DEFINITION_CACHE_SECONDS", "3600")
    # Threads share two malloc arenas rather than one each: memory one thread frees, another reuses.
    monkeypatch.setenv("MALLOC_ARENA_MAX", "2")
    process = ServerProcess(store_url, tmp_path / "server.log")
    process.start()
    try:
        with process.client(timeout=120.0) as http:
            yield process, http
    finally:
        process.stop()


def static_fan_out(name: str, branches: int) -> dict[str, Any]:
    """A FORK_JOIN of ``branches`` one-step branches, then its JOIN."""
    refs = [f"b{i}" for i in range(branches)]
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": "fan_out",
                "taskReferenceName": "fan_out",
                "type": "FORK_JOIN",
                "forkTasks": [[{"name": "mem_work", "taskReferenceName": ref, "type": "SIMPLE"}] for ref in refs],
            },
            {"name": "fan_in", "taskReferenceName": "fan_in", "type": "JOIN", "joinOn": refs[-1:]},
        ],
    }


def dynamic_fan_out(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": 1,
        "tasks": dynamic_fork_steps(),
    }


def dynamic_input(branches: int) -> dict[str, Any]:
    refs = [f"b{i}" for i in range(branches)]
    return {
        "tasks": [{"name": "mem_work", "taskReferenceName": ref, "type": "SIMPLE"} for ref in refs],
        "inputs": {ref: {"i": i} for i, ref in enumerate(refs)},
    }


def run_cycles(process: ServerProcess, http: httpx.Client, name: str, payload: bytes, *, remove: bool) -> list[float]:
    """Start, terminate (and remove) a run of ``name`` CYCLES times; the server's RSS after each cycle."""
    sizes = []
    for _ in range(CYCLES):
        started = http.post(f"/api/workflow/{name}", content=payload, headers={"content-type": "application/json"})
        assert started.status_code == 200, started.text
        workflow_id = started.text
        assert http.delete(f"/api/workflow/{workflow_id}", params={"reason": "memory"}).status_code == 200
        if remove:
            assert http.delete(f"/api/workflow/{workflow_id}/remove").status_code == 200
            assert http.get(f"/api/workflow/{workflow_id}").status_code == 404
        else:
            status = http.get(f"/api/workflow/{workflow_id}/status").json()["status"]
            assert status == "TERMINATED"
        sizes.append(rss_mb(process.pid))
    return sizes


def new_highs(sizes: list[float], start: int) -> int:
    """How many cycles from ``start`` on passed every earlier cycle's RSS by more than ``NEW_HIGH_MB``."""
    count = 0
    for index in range(start, len(sizes)):
        if sizes[index] > max(sizes[:index]) + NEW_HIGH_MB:
            count += 1
    return count


def assert_plateau(sizes: list[float]) -> None:
    """The later half of the cycles reaches little above the earlier half's highest, or it got there in a step or
    two, not cycle after cycle: RSS swings as the allocator hands memory back and takes it again, so the highs are
    compared, not the last figures."""
    half = len(sizes) // 2
    grown = max(sizes[half:]) - max(sizes[:half])
    figures = ", ".join(f"{size:.0f}" for size in sizes)
    assert grown < PLATEAU_MARGIN_MB or new_highs(sizes, half) <= MOST_NEW_HIGHS, (
        f"RSS kept growing over the last {len(sizes) - half} cycles: {figures} MB"
    )


def test_the_plateau_tells_a_leak_from_a_step() -> None:
    assert_plateau([180, 210, 218, 218, 182, 187, 190, 189, 191, 261, 261, 262])  # CI, once: one step, then flat
    assert_plateau([200, 204, 206, 207, 206, 207, 208, 207, 209, 208, 210, 209])
    assert_plateau([182, 213, 230, 235, 225, 187, 229, 193, 246, 262, 264, 264])  # CI, loaded: two steps, then flat
    leaking = [200 + 7 * cycle for cycle in range(CYCLES)]
    with pytest.raises(AssertionError, match="kept growing"):
        assert_plateau(leaking)
    with pytest.raises(AssertionError, match="kept growing"):
        assert_plateau([180, 240, 200, 210, 205, 215, 222, 230, 238, 246, 254, 262])


def test_removed_runs_leave_no_memory_behind(small_cache_server: tuple[ServerProcess, httpx.Client]) -> None:
    process, http = small_cache_server
    register(http, static_fan_out("mem_static", BRANCHES))
    assert_plateau(run_cycles(process, http, "mem_static", b"{}", remove=True))


def test_runs_kept_are_cached_within_the_byte_budget(small_cache_server: tuple[ServerProcess, httpx.Client]) -> None:
    """Ended runs that stay: the caches drop the oldest copies once they hold ``run_cache_bytes``."""
    process, http = small_cache_server
    register(http, static_fan_out("mem_kept", BRANCHES))
    assert_plateau(run_cycles(process, http, "mem_kept", b"{}", remove=False))


def test_removed_dynamic_fan_outs_leave_no_memory_behind(
    small_cache_server: tuple[ServerProcess, httpx.Client],
) -> None:
    process, http = small_cache_server
    register(http, dynamic_fan_out("mem_dynamic"))
    payload = json.dumps(dynamic_input(BRANCHES)).encode()
    assert_plateau(run_cycles(process, http, "mem_dynamic", payload, remove=True))
