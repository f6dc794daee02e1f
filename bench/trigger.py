"""An HTTP trigger answered synchronously: a request starts a run that computes and writes its own response.

Run from the repository root::

    .venv/bin/python bench/trigger.py [--store sqlite|postgres|both] [--requests 2000] [--warmup 200]
                                      [--concurrency 1]

For each store, a fresh database and a real ``baton serve`` (``bench/harness.py``); the workflow
``bench_trigger`` is registered with three steps: an HTTP_ENDPOINT trigger on ``POST /workflows/bench/{id}``,
an INLINE (JavaScript, in the sandbox) that adds the request body's ``n`` to the route's ``id``, and an
HTTP_RESPONSE that answers ``{"sum": ...}``. After ``--warmup`` uncounted requests, ``--requests`` more are
sent by ``--concurrency`` coroutines, each on its own keep-alive connection (``bench/rawhttp.py``); every
answer must be 200 with the right sum. Latency is the request as the client sees it, from sending it to
having the whole answer. One JSON line per store on stdout: ``p50_ms``, ``p99_ms``, ``max_ms`` (nearest rank)
and ``requests_per_s``; the machine goes to stderr first. The target (issue 11): p50 under 5 ms on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import uvloop
from harness import ADMIN_HEADERS, CLIENT, BenchError, BenchServer, bench_database, log, machine_header
from rawhttp import HttpClient

WORKFLOW: dict[str, Any] = {
    "name": "bench_trigger",
    "version": 1,
    "tasks": [
        {
            "name": "hook",
            "taskReferenceName": "hook",
            "type": "HTTP_ENDPOINT",
            "inputParameters": {"path": "bench/{id}", "methods": ["POST"], "canStartWorkflow": True},
        },
        {
            "name": "add",
            "taskReferenceName": "add",
            "type": "INLINE",
            "inputParameters": {
                "evaluatorType": "javascript",
                "expression": "Number($.id) + $.n",
                "id": "${hook.output.routeData.id}",
                "n": "${hook.output.body.n}",
            },
        },
        {
            "name": "reply",
            "taskReferenceName": "reply",
            "type": "HTTP_RESPONSE",
            "inputParameters": {"statusCode": 200, "body": {"sum": "${add.output.result}"}},
        },
    ],
}


def _rank(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


async def _drive(url: str, requests: int, warmup: int, concurrency: int) -> dict[str, Any]:
    latencies: list[float] = []
    counter = iter(range(warmup + requests))

    async def one(client: HttpClient, i: int) -> float:
        began = time.perf_counter()
        answer = await client.post(f"/workflows/bench/{i}", json={"n": 1})
        took = time.perf_counter() - began
        if answer.status_code != 200 or answer.json() != {"sum": i + 1}:
            raise BenchError(f"request {i}: {answer.status_code} {answer.text[:300]}")
        return took

    async def coroutine() -> None:
        async with HttpClient(url) as client:
            for i in counter:
                took = await one(client, i)
                if i >= warmup:
                    latencies.append(took)

    began = time.perf_counter()
    await asyncio.gather(*(coroutine() for _ in range(concurrency)))
    seconds = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "p50_ms": round(_rank(ordered, 0.50) * 1000, 2),
        "p99_ms": round(_rank(ordered, 0.99) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
        "requests_per_s": round((warmup + requests) / seconds, 1),
        "requests": requests,
        "warmup": warmup,
        "concurrency": concurrency,
    }


def run_store(store: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-trigger-") as folder:
        workdir = Path(folder)
        with bench_database(store, workdir) as url, BenchServer(url, workdir / "server.log") as server:
            registered = httpx.post(
                f"{server.url}/api/metadata/workflow", json=WORKFLOW, headers=ADMIN_HEADERS, timeout=30
            )
            if registered.status_code != 200:
                raise BenchError(f"registration: {registered.status_code} {registered.text}")
            try:
                figures = uvloop.run(_drive(server.url, args.requests, args.warmup, args.concurrency))
            except BaseException:
                log(server.log_tail())
                raise
    return {"workload": "trigger", "store": store, "client": CLIENT, **figures}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    log(json.dumps(machine_header()))
    failed = False
    for store in ("sqlite", "postgres") if args.store == "both" else (args.store,):
        try:
            print(json.dumps(run_store(store, args)), flush=True)
        except BenchError as exc:
            print(json.dumps({"workload": "trigger", "store": store, "error": str(exc)}), flush=True)
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
