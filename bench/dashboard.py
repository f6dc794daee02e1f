"""The dashboard's page loads over a large store: the runs list over 100,000 runs and a 500-step run's page.

Run from the repository root::

    .venv/bin/python bench/dashboard.py [--store sqlite|postgres] [--runs 100000] [--repeat 30]

A fresh database (a temporary SQLite file, or a PostgreSQL database from ``baton.store.testing``, dropped
afterwards) is migrated and filled straight through SQL, not the API: on SQLite ``baton.store.sqlite.bulk``
writes the runs and one UPDATE then mixes their statuses (85% COMPLETED, 8% RUNNING, 4% FAILED, 2% TERMINATED,
1% TIMED_OUT, as ``bench/search.py`` loads PostgreSQL, whose loader is used there) and gives every other run a
correlation id. Then a real ``baton serve`` is started, two 500-step runs are started through the API and run
to the end by the server (a FORK_JOIN_DYNAMIC of 498 NOOP branches, and a sequence of 500 NOOP steps), and each
page is asked for ``--repeat`` times over HTTP with the ADMIN key (after two untimed warm-ups): the runs list
unfiltered, by workflow, by status, by both, by correlation id, by entity, by an hour's time range, with a
free-text word, a deep page (about 90% of the runs newer than it),
its live part, and each large run's page. One JSON line per page on stdout (p50, p95, max in ms; the page's
size), and whether it is within issue 13's budget (the list 300 ms, a run's page 500 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import large_runs
from harness import ADMIN_HEADERS, BenchError, BenchServer, bench_database, log, machine_header

from baton.store import open_store
from baton.store.sqlite.bulk import fill_runs

LIST_BUDGET_MS = 300
RUN_BUDGET_MS = 500
STEPS = 500

# Statuses by i mod 100 as bench/search.py loads PostgreSQL; a run still RUNNING has no end time.
_MIX_SQLITE = """
UPDATE runs SET
    status = CASE WHEN i % 100 < 85 THEN 'COMPLETED' WHEN i % 100 < 93 THEN 'RUNNING'
                  WHEN i % 100 < 97 THEN 'FAILED' WHEN i % 100 < 99 THEN 'TERMINATED' ELSE 'TIMED_OUT' END,
    correlation_id = CASE WHEN i % 2 = 0 THEN 'corr-' || (i % 20000) END
FROM (SELECT workflow_id AS id, CAST(substr(workflow_id, 6) AS INTEGER) AS i FROM runs) numbered
WHERE runs.workflow_id = numbered.id
"""
_MIX_SQLITE_BODIES = """
UPDATE runs SET
    end_time = CASE status WHEN 'RUNNING' THEN 0 ELSE end_time END,
    body = json_set(body, '$.status', status, '$.correlationId', correlation_id,
                    '$.endTime', CASE status WHEN 'RUNNING' THEN 0 ELSE end_time END)
"""


def _fill_sqlite(path: Path, runs: int) -> None:
    fill_runs(str(path), runs)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(_MIX_SQLITE)
        conn.execute(_MIX_SQLITE_BODIES)
        conn.execute("COMMIT")
    finally:
        conn.close()


async def _migrate(url: str) -> None:
    store = open_store(url)
    await store.open()
    await store.close()


def load(store: str, url: str, runs: int) -> str:
    """Fills the database; returns a workflow name that a twentieth of the runs have, a fifth of them RUNNING."""
    began = time.perf_counter()
    asyncio.run(_migrate(url))
    if store == "sqlite":
        _fill_sqlite(Path(url.removeprefix("sqlite:///")), runs)
        name = "bulk_type_9"
    else:
        from search import load as load_postgres

        asyncio.run(load_postgres(url, runs, 100_000))
        name = "bench_type_9"
    print(json.dumps({"loaded_runs": runs, "store": store, "seconds": round(time.perf_counter() - began, 1)}))
    return name


def _large_definitions() -> list[dict[str, Any]]:
    fork = {**large_runs.flow(), "name": "bench_dash_fork"}  # a dynamic fork of the tasks in its input
    sequence = {
        "name": "bench_dash_sequence",
        "version": 1,
        "tasks": [
            {"name": f"step_{n}", "taskReferenceName": f"step_{n}", "type": "NOOP", "inputParameters": {"n": n}}
            for n in range(STEPS)
        ],
    }
    return [fork, sequence]


def start_large_runs(http: httpx.Client) -> dict[str, str]:
    """Starts both 500-step runs and waits until the server has run them to the end; their ids by shape."""
    for definition in _large_definitions():
        http.post("/api/metadata/workflow", json=definition, params={"overwrite": "true"}).raise_for_status()
    refs = [f"b{n}" for n in range(STEPS - 2)]
    fork_input = {
        "tasks": [{"name": "noop", "taskReferenceName": ref, "type": "NOOP"} for ref in refs],
        "inputs": {ref: {"n": n} for n, ref in enumerate(refs)},
    }
    started = {
        "fork": http.post("/api/workflow/bench_dash_fork", json=fork_input),
        "sequence": http.post("/api/workflow/bench_dash_sequence", json={}),
    }
    ids = {}
    for shape, answer in started.items():
        answer.raise_for_status()
        ids[shape] = answer.text
    deadline = time.monotonic() + 300
    for shape, workflow_id in ids.items():
        while True:
            run = http.get(f"/api/workflow/{workflow_id}").json()
            if run["status"] == "COMPLETED":
                log(f"bench: the {shape} run has {len(run['tasks'])} tasks")
                break
            if run["status"] != "RUNNING" or time.monotonic() > deadline:
                raise BenchError(f"the {shape} run is {run['status']}")
            time.sleep(0.2)
    return ids


def _deep_place(http: httpx.Client, runs: int) -> str:
    """The list's place (``older=``) of the run with about 90% of the runs newer than it."""
    answer = http.get("/api/workflow/search-v2", params={"start": runs * 9 // 10, "size": 1})
    answer.raise_for_status()
    (run,) = answer.json()["results"]
    return f"{run['createTime']}-{run['workflowId']}"


def _an_hour_of_runs(http: httpx.Client, runs: int) -> dict[str, str]:
    """The time-range filter of the hour from the start of the run halfway down the list."""
    answer = http.get("/api/workflow/search-v2", params={"start": runs // 2, "size": 1})
    answer.raise_for_status()
    began = answer.json()["results"][0]["createTime"] // 1000
    return {
        "startedAfter": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(began)),
        "startedBefore": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(began + 3600)),
    }


def timed(http: httpx.Client, path: str, params: dict[str, str], repeat: int) -> dict[str, Any]:
    samples: list[float] = []
    size = 0
    for turn in range(repeat + 2):
        began = time.perf_counter()
        answer = http.get(path, params=params)
        elapsed = (time.perf_counter() - began) * 1000
        if answer.status_code != 200:
            raise BenchError(f"GET {path} {params}: {answer.status_code} {answer.text[:300]}")
        size = len(answer.content)
        if turn >= 2:
            samples.append(elapsed)
    ordered = sorted(samples)
    return {
        "ms_p50": round(statistics.median(ordered), 1),
        "ms_p95": round(ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)], 1),
        "ms_max": round(ordered[-1], 1),
        "bytes": size,
    }


def measure(store: str, url: str, args: argparse.Namespace, workdir: Path) -> None:
    name = load(store, url, args.runs)
    with (
        BenchServer(url, workdir / "server.log") as server,
        httpx.Client(base_url=server.url, headers=ADMIN_HEADERS, timeout=120) as http,
    ):
        large = start_large_runs(http)
        deep = _deep_place(http, args.runs)
        hour = _an_hour_of_runs(http, args.runs)
        both = {"workflowType": name, "status": "RUNNING"}
        pages: list[tuple[str, str, dict[str, str], int]] = [
            ("runs list", "/ui/runs", {}, LIST_BUDGET_MS),
            ("runs list, by workflow", "/ui/runs", {"workflowType": name}, LIST_BUDGET_MS),
            ("runs list, by status", "/ui/runs", {"status": "FAILED"}, LIST_BUDGET_MS),
            ("runs list, by workflow and status", "/ui/runs", both, LIST_BUDGET_MS),
            ("runs list, by correlation id", "/ui/runs", {"correlationId": "corr-4242"}, LIST_BUDGET_MS),
            ("runs list, by entity", "/ui/runs", {"entity": "no-such-entity"}, LIST_BUDGET_MS),
            ("runs list, started within an hour", "/ui/runs", hour, LIST_BUDGET_MS),
            ("runs list, free text", "/ui/runs", {"freeText": "order-4242"}, LIST_BUDGET_MS),
            ("runs list, deep page", "/ui/runs", {"older": deep}, LIST_BUDGET_MS),
            ("runs list, live part", "/ui/runs-live", {}, LIST_BUDGET_MS),
            ("run page, 500-step fork", f"/ui/runs/{large['fork']}", {}, RUN_BUDGET_MS),
            ("run page, 500-step sequence", f"/ui/runs/{large['sequence']}", {}, RUN_BUDGET_MS),
        ]
        for label, path, params, budget in pages:
            figures = timed(http, path, params, args.repeat)
            line = {"page": label, "store": store, "runs": args.runs, **figures, "budget_ms": budget}
            print(json.dumps({**line, "within_budget": figures["ms_p95"] <= budget}), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30, help="timed requests of each page")
    args = parser.parse_args(argv)
    log(json.dumps(machine_header()))
    with tempfile.TemporaryDirectory(prefix="baton-dashboard-bench-") as tmp:
        workdir = Path(tmp)
        with bench_database(args.store, workdir) as url:
            measure(args.store, url, args, workdir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
