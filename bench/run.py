"""Baton's benchmark: real ``baton serve`` subprocesses, in-process workers over real HTTP.

Run from the repository root::

    .venv/bin/python bench/run.py [--store sqlite|postgres|both] [--workloads W1,W2,W3] [--runs 2000]

For each store and workload a fresh server is started on a fresh database (a temporary SQLite file, or a new
PostgreSQL database from ``baton.store.testing`` that is dropped afterwards). Each workload prints
one JSON line on stdout; a header describing the machine goes to stderr. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvloop
from harness import BenchError, BenchServer, CpuMeter, Profiler, bench_database, log, machine_header
from workloads import WORKLOAD_FUNCTIONS, Options

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6", "W7")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark Baton against real `baton serve` subprocesses.")
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset of W1-W7")
    parser.add_argument("--runs", type=int, default=2000, help="W1: number of runs")
    parser.add_argument("--starters", type=int, default=8, help="W1: concurrent starting coroutines")
    parser.add_argument("--workers-per-type", type=int, default=4, help="W1, W3: worker coroutines per task type")
    parser.add_argument("--batch", type=int, default=10, help="W1, W3: tasks asked for per batch poll")
    parser.add_argument("--executes", type=int, default=300, help="W2, W4: counted sync executes")
    parser.add_argument("--warmup", type=int, default=30, help="W2, W4: executes before counting")
    parser.add_argument("--steps", type=int, default=500, help="W3: branches of the one fanned-out run")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds a workload may take before failing")
    parser.add_argument("--no-verify", action="store_true", help="W1: skip the untimed status read of every run")
    parser.add_argument(
        "--profile-dir", type=Path, help="record each workload's server with py-spy (speedscope) into this directory"
    )
    parser.add_argument("--profile-rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--profile-native", action="store_true", help="py-spy --native: C frames too")
    parser.add_argument("--keep-logs", action="store_true", help="keep the server logs (their path goes to stderr)")
    args = parser.parse_args(argv)
    args.workload_list = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in args.workload_list if w not in WORKLOADS]
    if unknown or not args.workload_list:
        parser.error(f"--workloads: unknown {unknown}; choose from {', '.join(WORKLOADS)}")
    for flag in ("runs", "starters", "workers_per_type", "batch", "executes", "steps"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1")
    if args.profile_dir is not None:
        try:
            args.profile_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            parser.error(f"--profile-dir: {exc}")
    return args


def _raise_on_sigterm(signum: int, frame: object) -> None:
    """Unwind like Ctrl-C: the server is stopped and the database dropped; a second SIGTERM must not cut that short."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise SystemExit(128 + signum)


def run_store(store: str, args: argparse.Namespace, opts: Options) -> int:
    """Each chosen workload on a fresh server and database of its own (a figure must not depend on what ran
    before it: on a PostgreSQL without autovacuum, W1's dead rows slowed a W2 after it by half); returns the
    number of failed workloads."""
    failures = 0
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        for workload in args.workload_list:
            failures += _run_workload(store, workload, args, opts, runner)
    return failures


def _run_workload(store: str, workload: str, args: argparse.Namespace, opts: Options, runner: asyncio.Runner) -> int:
    """One workload on a fresh server and database; prints its figure line; returns 1 if it failed."""
    workdir = Path(tempfile.mkdtemp(prefix=f"baton-bench-{store}-{workload.lower()}-"))
    try:
        with bench_database(store, workdir) as url, BenchServer(url, workdir / "server.log") as server:
            log(f"bench: {workload} on {store}: baton serve pid {server.pid} on {server.url}")
            profile: contextlib.AbstractContextManager[Any] = contextlib.nullcontext()
            if args.profile_dir is not None:
                output = args.profile_dir / f"{workload.lower()}-{store}.speedscope.json"
                profile = Profiler(server.pid, output, args.profile_rate, args.profile_native)
            log(f"bench: {workload} on {store}: load average {os.getloadavg()[0]:.2f} before the start")
            try:
                database = urlsplit(url).path.lstrip("/") if store == "postgres" else None
                meter = CpuMeter(server.pid, database)
                with profile:
                    result = runner.run(WORKLOAD_FUNCTIONS[workload](server.url, store, opts, meter))
                result.update(meter.figures)
            except Exception as exc:
                detail = f"{type(exc).__name__}: {exc}"
                print(json.dumps({"workload": workload, "store": store, "error": detail}), flush=True)
                log(f"bench: {workload} on {store} failed: {detail}\n--- server log (tail) ---")
                log(server.log_tail())
                return 1
            print(json.dumps(result), flush=True)
            if server.process is not None and server.process.poll() is not None:
                raise BenchError(f"baton serve exited during {workload}:\n{server.log_tail()}")
    except BenchError as exc:
        print(json.dumps({"workload": workload, "store": store, "error": str(exc).splitlines()[0]}), flush=True)
        log(f"bench: {workload} on {store}: {exc}")
        return 1
    finally:
        if args.keep_logs:
            log(f"bench: {workload} on {store}: server log kept in {workdir / 'server.log'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    opts = Options(
        runs=args.runs,
        starters=args.starters,
        workers_per_type=args.workers_per_type,
        batch=args.batch,
        executes=args.executes,
        warmup=args.warmup,
        steps=args.steps,
        timeout=args.timeout,
        verify_all=not args.no_verify,
    )
    log(json.dumps(machine_header()))
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    failures = sum(run_store(store, args, opts) for store in stores)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
