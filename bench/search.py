"""Search over a million runs on PostgreSQL: load them fast, then time typical searches.

Run from the repository root::

    .venv/bin/python bench/search.py [--runs 1000000] [--repeat 20] [--explain]

A fresh database comes from ``baton.store.testing`` (migrated, dropped afterwards).
The runs are made by PostgreSQL itself (``INSERT ... SELECT generate_series``, in
chunks), not through the API: 20 workflow types; 85% COMPLETED, 8% RUNNING, 4%
FAILED, 2% TERMINATED, 1% TIMED_OUT; half with a correlation id shared by about
five runs; start times spread evenly over 30 days; one task per run. Then each
query runs ``--repeat`` times through the store (``PostgresStore.search_runs``,
the statement the server runs) after one untimed warm-up, and one through HTTP
against a real ``baton serve``; one JSON line per query on stdout with the
median, p95 and max in ms. ``--explain`` prints each query's plan (EXPLAIN
ANALYZE) to stderr, which shows the index each one uses.

``--store sqlite`` measures the event loop instead: a migrated SQLite file gets
``--runs`` finished runs (``baton.store.sqlite.bulk``), then a real ``baton serve``
answers searches that read every run (a ``freeText`` word no run holds) while
``/health`` is asked every 10 ms on another connection; one JSON line with the
searches' latencies and the worst and p99 ``/health`` latency while they ran.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from harness import ADMIN_HEADERS, BenchServer, bench_database, log, machine_header

from baton.model.search_query import TASK_FIELDS, WORKFLOW_FIELDS, free_text_terms, parse_query, parse_sort
from baton.store import SearchRequest, open_store
from baton.store.common.dialect import Dialect
from baton.store.common.search import search_runs, search_tasks
from baton.store.postgres import PostgresStore
from baton.store.sqlite.bulk import fill_runs

BASE_TIME = 1_700_000_000_000
SPAN_MS = 30 * 86_400_000
TYPES = 20
SNAPSHOT = "bench-snapshot"

# One chunk of runs, i in [$1, $2]; the same rows' tasks follow in LOAD_TASKS.
LOAD_RUNS = """
WITH source AS (
    SELECT i,
           md5(i::text)::uuid::text AS workflow_id,
           -- (i / 100 + 3 i) mod 20: every type gets every status (which follows i mod 100).
           'bench_type_' || ((i / 100 + 3 * i) % $4) AS name,
           CASE WHEN i % 100 < 85 THEN 'COMPLETED' WHEN i % 100 < 93 THEN 'RUNNING'
                WHEN i % 100 < 97 THEN 'FAILED' WHEN i % 100 < 99 THEN 'TERMINATED'
                ELSE 'TIMED_OUT' END AS status,
           CASE WHEN i % 2 = 0 THEN 'corr-' || (i % 200000) END AS correlation_id,
           $3::bigint + i * ($5::bigint / $6::bigint) AS create_time,
           json_build_object('customer', 'cust-' || (i % 50000), 'orderId', 'order-' || i,
                             'amount', i % 1000)::text AS input
    FROM generate_series($1::bigint, $2::bigint) AS i
), timed AS (
    SELECT s.*,
           CASE WHEN s.status = 'RUNNING' THEN 0 ELSE s.create_time + 500 + (s.i % 10000) END AS end_time
    FROM source s
)
INSERT INTO runs (workflow_id, name, version, status, correlation_id, priority,
                  create_time, update_time, end_time, snapshot_hash, body, search_vector)
SELECT workflow_id, name, 1, status, correlation_id, 0,
       create_time, greatest(end_time, create_time + 100), end_time, $7,
       '{"workflowId":"' || workflow_id || '","workflowName":"' || name || '","workflowVersion":1,'
       || '"status":"' || status || '",'
       || CASE WHEN correlation_id IS NULL THEN '' ELSE '"correlationId":"' || correlation_id || '",' END
       || '"input":' || input || ','
       || '"output":' || CASE WHEN status = 'COMPLETED' THEN '{"ok":true}' ELSE '{}' END || ','
       || '"createTime":' || create_time || ',"startTime":' || create_time
       || ',"updateTime":' || greatest(end_time, create_time + 100) || ',"endTime":' || end_time
       || CASE WHEN status = 'FAILED' THEN ',"reasonForIncompletion":"bench failure"' ELSE '' END
       || '}',
       -- What the insert trigger computes, set-based (the trigger is off while loading).
       to_tsvector('simple', workflow_id || ' ' || coalesce(correlation_id, '') || ' ' || input)
FROM timed"""
LOAD_TASKS = """
INSERT INTO tasks (task_id, workflow_id, seq, ref, task_type, status, timer_at, body)
SELECT r.workflow_id || '-t1', r.workflow_id, 1, 'step_ref', r.name || '_step',
       CASE r.status WHEN 'RUNNING' THEN 'SCHEDULED' WHEN 'COMPLETED' THEN 'COMPLETED' ELSE 'FAILED' END,
       NULL,
       '{"taskId":"' || r.workflow_id || '-t1","taskType":"' || r.name || '_step","referenceTaskName":"step_ref",'
       || '"workflowInstanceId":"' || r.workflow_id || '","workflowType":"' || r.name || '",'
       || '"status":"' || CASE r.status WHEN 'RUNNING' THEN 'SCHEDULED' WHEN 'COMPLETED' THEN 'COMPLETED'
                               ELSE 'FAILED' END || '","taskDefName":"' || r.name || '_step","seq":1,'
       || '"scheduledTime":' || r.create_time || ',"updateTime":' || r.update_time || '}'
FROM runs r
WHERE r.create_time >= $1::bigint AND r.create_time <= $2::bigint"""


def _time_of(i: int, runs: int) -> int:
    return BASE_TIME + i * (SPAN_MS // runs)


async def load(url: str, runs: int, chunk: int) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        started = time.perf_counter()
        await conn.execute(
            "INSERT INTO definition_snapshots (hash, body) VALUES ($1, $2)",
            SNAPSHOT,
            '{"name":"bench","version":1,"tasks":[]}',
        )
        await conn.execute("ALTER TABLE runs DISABLE TRIGGER runs_search_vector")
        for first in range(1, runs + 1, chunk):
            last = min(first + chunk - 1, runs)
            await conn.execute(LOAD_RUNS, first, last, BASE_TIME, TYPES, SPAN_MS, runs, SNAPSHOT)
            await conn.execute(LOAD_TASKS, _time_of(first, runs), _time_of(last, runs))
            log(f"bench: loaded runs {first}..{last} ({time.perf_counter() - started:.0f} s)")
        await conn.execute("ALTER TABLE runs ENABLE TRIGGER runs_search_vector")
        loaded_s = time.perf_counter() - started
        await conn.execute("VACUUM ANALYZE runs")
        await conn.execute("VACUUM ANALYZE tasks")
        count = await conn.fetchval("SELECT count(*) FROM runs")
        size = await conn.fetchval("SELECT pg_size_pretty(pg_total_relation_size('runs'))")
        return {
            "step": "load",
            "runs": count,
            "load_s": round(loaded_s, 1),
            "vacuum_s": round(time.perf_counter() - started - loaded_s, 1),
            "runs_table_with_indexes": size,
        }
    finally:
        await conn.close()


def run_request(
    query: str = "", free_text: str = "*", sort: str = "", start: int = 0, size: int = 100
) -> SearchRequest:
    return SearchRequest(
        query=parse_query(query, WORKFLOW_FIELDS),
        free_text=free_text_terms(free_text),
        sort=parse_sort(sort, WORKFLOW_FIELDS),
        start=start,
        size=size,
    )


def task_request(query: str = "", free_text: str = "*", size: int = 100) -> SearchRequest:
    return SearchRequest(query=parse_query(query, TASK_FIELDS), free_text=free_text_terms(free_text), size=size)


async def timed(repeat: int, call: Callable[[], Awaitable[Any]]) -> tuple[list[float], Any]:
    result = await call()  # warm-up, untimed
    samples: list[float] = []
    for _ in range(repeat):
        began = time.perf_counter()
        result = await call()
        samples.append((time.perf_counter() - began) * 1000)
    return samples, result


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered)) - 1)]
    return {
        "ms_p50": round(statistics.median(ordered), 2),
        "ms_p95": round(p95, 2),
        "ms_max": round(ordered[-1], 2),
    }


async def explain(url: str, sql: str, params: list[Any]) -> str:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql, *params)
        return "\n".join(row[0] for row in rows)
    finally:
        await conn.close()


async def time_queries(url: str, runs: int, repeat: int, show_plans: bool) -> list[dict[str, Any]]:
    store = open_store(url)
    assert isinstance(store, PostgresStore)
    await store.open()
    lines: list[dict[str, Any]] = []
    recent = _time_of(runs - runs // 30, runs)  # the last day
    some_id = await _some_workflow_id(url, runs // 2)
    searches: list[tuple[str, SearchRequest]] = [
        ("everything, newest first", run_request()),
        ("workflowType IN (a,b)", run_request("workflowType IN (bench_type_3, bench_type_7)")),
        ("status IN (RUNNING,FAILED)", run_request("status IN (RUNNING, FAILED)")),
        ("status = FAILED AND workflowType = a", run_request("status = FAILED AND workflowType = bench_type_4")),
        ("correlationId = x", run_request("correlationId = corr-4242")),
        ("workflowId = x", run_request(f"workflowId = {some_id}")),
        ("startTime > last day", run_request(f"startTime > {recent}")),
        (
            "type AND status AND startTime range",
            run_request(f"workflowType = bench_type_5 AND status = COMPLETED AND startTime > {recent}"),
        ),
        ("endTime < t (finished before)", run_request(f"endTime < {_time_of(runs // 10, runs)}")),
        ("freeText: an input word (1 run)", run_request(free_text=f"order-{runs // 3}")),
        ("freeText: a customer (runs / 50,000)", run_request(free_text=f"cust-{runs // 7 % 50_000}")),
        ("freeText + status", run_request("status = COMPLETED", free_text=f"cust-{runs // 7 % 50_000}")),
        ("sort startTime:ASC, page 10 of 100", run_request(sort="startTime:ASC", start=1000)),
    ]
    for name, request in searches:
        samples, page = await timed(repeat, lambda request=request: store.search_runs(request))
        lines.append(
            {
                "query": name,
                "via": "store",
                **summary(samples),
                "total_hits": page.total_hits,
                "returned": len(page.results),
            }
        )
        if show_plans:
            statements = search_runs(Dialect.POSTGRES, request)
            log(f"--- {name}\n{await explain(url, statements.page.sql, statements.page.params)}")
            log(f"--- {name} (count)\n{await explain(url, statements.count.sql, statements.count.params)}")
    tasks: list[tuple[str, SearchRequest]] = [
        ("tasks: workflowId = x", task_request(f"workflowId = {some_id}")),
        ("tasks: taskType = t AND status = FAILED", task_request("taskType = bench_type_3_step AND status = FAILED")),
    ]
    for name, request in tasks:
        samples, task_page = await timed(repeat, lambda request=request: store.search_tasks(request))
        lines.append(
            {
                "query": name,
                "via": "store",
                **summary(samples),
                "total_hits": task_page.total_hits,
                "returned": len(task_page.results),
            }
        )
        if show_plans:
            statement = search_tasks(Dialect.POSTGRES, request).page
            log(f"--- {name}\n{await explain(url, statement.sql, statement.params)}")
    samples, ids = await timed(
        repeat,
        lambda: store.running_run_ids("bench_type_9", version=None, start_from=recent, start_to=None),
    )
    lines.append({"query": "running ids of a type, last day", "via": "store", **summary(samples), "returned": len(ids)})
    # The oldest 1% ended long ago: each call deletes a batch of 500 of them with their tasks.
    samples, deleted = await timed(3, lambda: store.delete_finished_before(_time_of(runs // 100, runs), 500))
    lines.append({"query": "retention batch (500 runs)", "via": "store", **summary(samples), "deleted": deleted})
    await store.close()
    return lines


async def _some_workflow_id(url: str, i: int) -> str:
    conn = await asyncpg.connect(url)
    try:
        found: str = await conn.fetchval("SELECT md5($1::text)::uuid::text", str(i))
        return found
    finally:
        await conn.close()


def time_http(url: str, repeat: int, runs: int, workdir: Path) -> dict[str, Any]:
    since = _time_of(runs // 2, runs)
    query = f"workflowType IN (bench_type_3, bench_type_7) AND status = COMPLETED AND startTime > {since}"
    with (
        BenchServer(url, workdir / "server.log") as server,
        httpx.Client(base_url=server.url, headers=ADMIN_HEADERS, timeout=30) as http,
    ):
        params = {"query": query, "freeText": "*", "start": 0, "size": 100}
        http.get("/api/workflow/search", params=params).raise_for_status()
        samples: list[float] = []
        body: dict[str, Any] = {}
        for _ in range(repeat):
            began = time.perf_counter()
            response = http.get("/api/workflow/search", params=params)
            response.raise_for_status()
            body = response.json()
            samples.append((time.perf_counter() - began) * 1000)
    return {
        "query": "HTTP: type IN AND status AND startTime",
        "via": "http",
        **summary(samples),
        "total_hits": body["totalHits"],
        "returned": len(body["results"]),
    }


async def _health_while_searching(base_url: str, repeat: int) -> dict[str, Any]:
    """``repeat`` full-scan searches one after another, with /health asked every 10 ms meanwhile."""
    health: list[float] = []
    searches: list[float] = []
    async with (
        httpx.AsyncClient(base_url=base_url, headers=ADMIN_HEADERS, timeout=60) as searcher,
        httpx.AsyncClient(base_url=base_url, timeout=60) as prober,
    ):
        searching = True

        async def probe() -> None:
            while searching:
                began = time.perf_counter()
                (await prober.get("/health")).raise_for_status()
                health.append((time.perf_counter() - began) * 1000)
                await asyncio.sleep(0.01)

        probing = asyncio.create_task(probe())
        params = {"query": "", "freeText": "no-run-holds-this-word", "start": 0, "size": 100}
        for _ in range(repeat):
            began = time.perf_counter()
            (await searcher.get("/api/workflow/search", params=params)).raise_for_status()
            searches.append((time.perf_counter() - began) * 1000)
        searching = False
        await probing
    health.sort()
    return {
        "query": "HTTP: freeText over every run, /health meanwhile",
        "via": "http",
        **summary(searches),
        "health_probes": len(health),
        "health_p99_ms": round(health[min(len(health) - 1, int(len(health) * 0.99))], 2),
        "health_max_ms": round(health[-1], 2),
    }


def measure_sqlite(args: argparse.Namespace, workdir: Path) -> None:
    path = workdir / "search.db"
    url = f"sqlite:///{path}"

    async def migrate() -> None:
        store = open_store(url)
        await store.open()
        await store.close()

    asyncio.run(migrate())
    began = time.perf_counter()
    fill_runs(str(path), args.runs)
    print(json.dumps({"loaded_runs": args.runs, "seconds": round(time.perf_counter() - began, 1)}), flush=True)
    with BenchServer(url, workdir / "server.log") as server:
        print(json.dumps(asyncio.run(_health_while_searching(server.url, args.repeat))), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--store", choices=["postgres", "sqlite"], default="postgres")
    parser.add_argument("--chunk", type=int, default=100_000, help="runs per INSERT while loading")
    parser.add_argument("--repeat", type=int, default=20, help="timed repetitions of each query")
    parser.add_argument("--explain", action="store_true", help="print each query's plan to stderr")
    parser.add_argument(
        "--url", help="a migrated database to use and keep (loaded only if it has no runs) instead of a fresh one"
    )
    args = parser.parse_args(argv)
    log(json.dumps(machine_header()))
    with tempfile.TemporaryDirectory(prefix="baton-search-bench-") as tmp:
        if args.store == "sqlite":
            measure_sqlite(args, Path(tmp))
        elif args.url:
            measure(args.url, args, Path(tmp))
        else:
            with bench_database("postgres", Path(tmp)) as url:
                measure(url, args, Path(tmp))
    return 0


def measure(url: str, args: argparse.Namespace, workdir: Path) -> None:
    if asyncio.run(_count_runs(url)) == 0:
        print(json.dumps(asyncio.run(load(url, args.runs, args.chunk))), flush=True)
    for line in asyncio.run(time_queries(url, args.runs, args.repeat, args.explain)):
        print(json.dumps(line), flush=True)
    print(json.dumps(time_http(url, args.repeat, args.runs, workdir)), flush=True)


async def _count_runs(url: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM runs")
        return count
    finally:
        await conn.close()


if __name__ == "__main__":
    sys.exit(main())
