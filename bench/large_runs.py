"""Large runs against a real ``baton serve``: memory across start/terminate/remove cycles, and /health lag.

``cycles``: starts a FORK_JOIN_DYNAMIC run of ``--branches`` SIMPLE branches,
terminates it, removes it, ``--cycles`` times, and prints the server's RSS
(``/proc/<pid>/status`` VmRSS) after each cycle. ``lag``: while one such run
is started, read whole (``GET /api/workflow/{id}``), terminated and removed, a
thread probes ``/health`` every 50 ms; prints the slowest answer seen during
each step. One JSON line per figure on stdout.

    .venv/bin/python bench/large_runs.py cycles --store sqlite --branches 20000 --cycles 15
    .venv/bin/python bench/large_runs.py lag --store postgres --branches 100000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import ADMIN_HEADERS, ADMIN_KEY_ENV

from baton.store.testing import create_test_database, drop_test_database

FLOW = "large_fan_out"


def flow() -> dict[str, Any]:
    return {
        "name": FLOW,
        "version": 1,
        "tasks": [
            {
                "name": "fan_out",
                "taskReferenceName": "fan_out",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {"tasks": "${workflow.input.tasks}", "inputs": "${workflow.input.inputs}"},
                "dynamicForkTasksParam": "tasks",
                "dynamicForkTasksInputParamName": "inputs",
            },
            {"name": "fan_in", "taskReferenceName": "fan_in", "type": "JOIN"},
        ],
    }


def start_payload(branches: int) -> dict[str, Any]:
    refs = [f"b{i}" for i in range(branches)]
    return {
        "tasks": [{"name": "large_work", "taskReferenceName": ref, "type": "SIMPLE"} for ref in refs],
        "inputs": {ref: {"i": i} for i, ref in enumerate(refs)},
    }


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@contextmanager
def serve(store: str, extra: list[str]) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/baton.db" if store == "sqlite" else create_test_database()
        port = 18000 + (hash(tmp) % 2000)
        command = [sys.executable, "-m", "baton", "serve", "--db", url, "--port", str(port), "--log-level", "warning"]
        process = subprocess.Popen(
            [*command, "--max-body-bytes", str(64 << 20), *extra], env={**os.environ, **ADMIN_KEY_ENV}
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            yield base, process
        finally:
            process.terminate()
            process.wait(timeout=30)
            if store == "postgres":
                drop_test_database(url)


def one_cycle(http: httpx.Client, payload: bytes) -> None:
    response = http.post(f"/api/workflow/{FLOW}", content=payload, headers={"content-type": "application/json"})
    response.raise_for_status()
    workflow_id = response.text
    http.delete(f"/api/workflow/{workflow_id}", params={"reason": "bench"}).raise_for_status()
    http.delete(f"/api/workflow/{workflow_id}/remove").raise_for_status()


def cycles(args: argparse.Namespace) -> None:
    payload = json.dumps(start_payload(args.branches)).encode()
    with (
        serve(args.store, args.serve_args) as (base, process),
        httpx.Client(base_url=base, headers=ADMIN_HEADERS, timeout=600) as http,
    ):
        http.post("/api/metadata/workflow", json=flow(), params={"overwrite": "true"}).raise_for_status()
        before = rss_bytes(process.pid)
        print(json.dumps({"store": args.store, "cycle": 0, "rss_mb": round(before / 2**20, 1)}), flush=True)
        for cycle in range(1, args.cycles + 1):
            one_cycle(http, payload)
            rss = rss_bytes(process.pid)
            print(json.dumps({"store": args.store, "cycle": cycle, "rss_mb": round(rss / 2**20, 1)}), flush=True)


class Probe:
    """``/health`` every 50 ms from a thread of its own; the slowest answer since the last ``take``."""

    def __init__(self, base: str) -> None:
        self._base = base
        self._worst = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(base_url=self._base, timeout=60) as http:
            while not self._stop.wait(0.05):
                began = time.perf_counter()
                http.get("/health").raise_for_status()
                took = time.perf_counter() - began
                with self._lock:
                    self._worst = max(self._worst, took)

    def take(self) -> float:
        time.sleep(0.2)  # at least a few probes after the step
        with self._lock:
            worst, self._worst = self._worst, 0.0
        return round(worst * 1000, 1)


def lag(args: argparse.Namespace) -> None:
    payload = json.dumps(start_payload(args.branches)).encode()
    with (
        serve(args.store, args.serve_args) as (base, _),
        httpx.Client(base_url=base, headers=ADMIN_HEADERS, timeout=600) as http,
    ):
        http.post("/api/metadata/workflow", json=flow(), params={"overwrite": "true"}).raise_for_status()
        with Probe(base) as probe:
            probe.take()

            def report(step: str, seconds: float, **extra: Any) -> None:
                figure = {"store": args.store, "branches": args.branches, "step": step}
                figure.update(seconds=round(seconds, 2), worst_health_ms=probe.take(), **extra)
                print(json.dumps(figure), flush=True)

            began = time.perf_counter()
            response = http.post(f"/api/workflow/{FLOW}", content=payload, headers={"content-type": "application/json"})
            response.raise_for_status()
            workflow_id = response.text
            report("start", time.perf_counter() - began)
            began = time.perf_counter()
            size = len(http.get(f"/api/workflow/{workflow_id}").content)
            report("get", time.perf_counter() - began, response_bytes=size)
            began = time.perf_counter()
            http.delete(f"/api/workflow/{workflow_id}", params={"reason": "bench"}).raise_for_status()
            report("terminate", time.perf_counter() - began)
            began = time.perf_counter()
            http.delete(f"/api/workflow/{workflow_id}/remove").raise_for_status()
            report("remove", time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("what", choices=["cycles", "lag"])
    parser.add_argument("--store", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--branches", type=int, default=20_000)
    parser.add_argument("--cycles", type=int, default=15)
    parser.add_argument("--serve-args", nargs="*", default=[], help="more `baton serve` arguments")
    args = parser.parse_args()
    cycles(args) if args.what == "cycles" else lag(args)


if __name__ == "__main__":
    main()
