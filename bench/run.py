"""Baton's benchmark: real ``baton serve`` subprocesses, in-process workers over real HTTP.

Run from the repository root::

    .venv/bin/python bench/run.py [--store sqlite|postgres|both] [--workloads W1,W2,W3] [--runs 2000]

For each store a fresh server is started on a fresh database (a temporary SQLite file, or a new
PostgreSQL database from ``baton.store.testing`` that is dropped afterwards). Each workload prints
one JSON line on stdout; a header describing the machine goes to stderr. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec
import uvloop
from rawhttp import HttpClient

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

WORKLOADS = ("W1", "W2", "W3", "W4", "W5", "W6")
JSON_HEADERS = {"content-type": "application/json"}
CLIENT = "bench/rawhttp.py (HTTP/1.1 keep-alive, one connection per coroutine) on one uvloop event loop"

_encode = msgspec.json.encode
_decode = msgspec.json.decode


class BenchError(Exception):
    """The server answered something the benchmark did not expect, or a workload ran out of time."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the machine ----------------------------------------------------------------------------------


def _baton_commit() -> str | None:
    """The repository's commit, with ``+dirty`` when tracked files under baton/ differ from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "baton"], cwd=REPO, capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}+dirty" if changed else commit


def machine_header() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gib = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        first = Path("/proc/meminfo").read_text().splitlines()[0]
        memory_gib = round(int(first.split()[1]) / 1024 / 1024, 1)
    return {
        "bench": "baton",
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": memory_gib,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "client": CLIENT,
        "baton_commit": _baton_commit(),
    }


def _machine_busy_ticks() -> int:
    """Busy CPU time of the whole machine (all cores), in clock ticks, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields[:8]) - idle


def _process_ticks(pid: int) -> int:
    """User + system CPU time of one process, in clock ticks, from /proc/<pid>/stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


def _backend_ticks(database: str) -> dict[int, int]:
    """CPU ticks of each PostgreSQL backend serving ``database`` (found by its process title)."""
    ticks: dict[int, int] = {}
    marker = f" {database} ".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes()
            if title.startswith(b"postgres:") and marker in title:
                ticks[int(entry.name)] = _process_ticks(int(entry.name))
        except OSError:
            continue  # gone, or not ours to read
    return ticks


class CpuMeter:
    """CPU seconds used in a workload's timed window: by the server, by this process, by the whole machine.

    On PostgreSQL the backends serving the benchmark's database are counted too (``postgres_cpu_s``,
    not PostgreSQL's background writers). What ``machine`` holds beyond these is other load on the
    machine, which makes the figures worthless when it is large.
    """

    def __init__(self, server_pid: int, database: str | None = None) -> None:
        self._server_pid = server_pid
        self._database = database
        self._tick = os.sysconf("SC_CLK_TCK")
        self._start: tuple[int, int, float] | None = None
        self._backends: dict[int, int] = {}
        self.figures: dict[str, float] = {}

    def start(self) -> None:
        self._start = (_machine_busy_ticks(), _process_ticks(self._server_pid), time.process_time())
        if self._database:
            self._backends = _backend_ticks(self._database)

    def stop(self) -> None:
        assert self._start is not None
        machine, server, client = self._start
        self.figures = {
            "server_cpu_s": round((_process_ticks(self._server_pid) - server) / self._tick, 2),
            "client_cpu_s": round(time.process_time() - client, 2),
        }
        if self._database:
            after = _backend_ticks(self._database)
            used = sum(ticks - self._backends.get(pid, 0) for pid, ticks in after.items())
            self.figures["postgres_cpu_s"] = round(used / self._tick, 2)
        self.figures["machine_cpu_s"] = round((_machine_busy_ticks() - machine) / self._tick, 2)


# -- the server and its database ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def bench_database(store: str, workdir: Path) -> Iterator[str]:
    """A fresh database URL for ``store``; a PostgreSQL database is dropped on the way out."""
    if store == "sqlite":
        yield f"sqlite:///{workdir / 'bench.db'}"
        return
    try:
        from baton.store.testing import create_test_database, drop_test_database
    except ImportError as exc:
        raise BenchError(f"baton.store.testing is not importable ({exc}); cannot create a PostgreSQL database") from exc
    url = create_test_database()
    try:
        yield url
    finally:
        try:
            drop_test_database(url)
        except Exception as exc:
            log(f"bench: could not drop {url}: {exc}")


class BenchServer:
    """``python -m baton serve`` on a free port, logging to a file; stopped (and killed if need be) on exit."""

    def __init__(self, database_url: str, log_path: Path) -> None:
        self.database_url = database_url
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def __enter__(self) -> BenchServer:
        command = [
            sys.executable,
            "-m",
            "baton",
            "serve",
            "--db",
            self.database_url,
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        with self.log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                command,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=REPO,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        try:
            self._wait_healthy(timeout=60.0)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wait_healthy(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(f"baton serve exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.05)
        raise BenchError(f"baton serve did not answer /health within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class Profiler:
    """``py-spy record`` attached to the server for the length of one workload (speedscope output)."""

    def __init__(self, pid: int, output: Path, rate: int, native: bool = False) -> None:
        self.pid = pid
        self.output = output
        self.rate = rate
        self.native = native
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Profiler:
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(py_spy).exists():
            raise BenchError("--profile-dir needs py-spy (.venv/bin/pip install py-spy)")
        command = [py_spy, "record", "--pid", str(self.pid), "--rate", str(self.rate)]
        command += ["--format", "speedscope", "--output", str(self.output)]
        if self.native:
            command.append("--native")
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        time.sleep(0.5)  # let it attach before the load starts
        return self

    def __exit__(self, *exc: object) -> None:
        process = self.process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
        if self.output.exists():
            log(f"bench: profile written to {self.output}")
        else:
            log(f"bench: py-spy wrote no profile (exit {process.returncode}): {errors.strip()[-500:]}")


# -- definitions ----------------------------------------------------------------------------------


def sequence_workflow(name: str, task_types: list[str]) -> dict[str, Any]:
    """A sequence of SIMPLE steps; each step's input carries the run's input and the previous step's output."""
    tasks = []
    previous = "${workflow.input.n}"
    for index, task_type in enumerate(task_types):
        ref = f"s{index}"
        tasks.append(
            {
                "name": task_type,
                "taskReferenceName": ref,
                "type": "SIMPLE",
                "inputParameters": {"n": previous, "i": index},
            }
        )
        previous = f"${{{ref}.output.n}}"
    return {
        "name": name,
        "version": 1,
        "schemaVersion": 2,
        "tasks": tasks,
        "outputParameters": {"n": previous},
        "ownerEmail": "bench@example.com",
    }


async def register(client: HttpClient, definition: dict[str, Any]) -> None:
    response = await client.post(
        "/api/metadata/workflow", content=_encode(definition), headers=JSON_HEADERS, params={"overwrite": "true"}
    )
    if response.status_code not in (200, 204):
        raise BenchError(
            f"POST /api/metadata/workflow ({definition['name']}): expected 200, got {response.status_code}: "
            f"{response.text[:500]}"
        )


# -- workers --------------------------------------------------------------------------------------


@dataclass
class WorkerPool:
    """Coroutines that long-poll a task type in batches and report with update-v2, which hands back the next task.

    Each coroutine keeps the tasks it was given in a local queue and works them one at a time; the work
    itself is trivial (``n + 1``) so the figures measure the server, not the worker.
    """

    client: HttpClient
    batch: int = 10
    poll_timeout_ms: int = 1000
    on_completed: Callable[[str, dict[str, Any]], None] | None = None
    completed: dict[str, int] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: bool = False

    def start(self, task_type: str, coroutines: int) -> None:
        self.completed.setdefault(task_type, 0)
        for index in range(coroutines):
            worker_id = f"bench-{task_type}-{index}"
            self.tasks.append(asyncio.create_task(self._work(task_type, worker_id), name=worker_id))

    async def _work(self, task_type: str, worker_id: str) -> None:
        client = self.client
        poll_path = (
            f"/api/tasks/poll/batch/{task_type}?workerid={worker_id}&count={self.batch}&timeout={self.poll_timeout_ms}"
        )
        poll_timeout = self.poll_timeout_ms / 1000 + 30
        queue: deque[dict[str, Any]] = deque()
        while not self.stopping:
            if not queue:
                response = await client.get(poll_path, timeout=poll_timeout)
                if response.status_code == 204:
                    continue
                if response.status_code != 200:
                    raise BenchError(
                        f"GET {poll_path}: expected 200, got {response.status_code}: {response.text[:500]}"
                    )
                queue.extend(_decode(response.content))
                continue
            task = queue.popleft()
            n = task.get("inputData", {}).get("n")
            result = {
                "taskId": task["taskId"],
                "workflowInstanceId": task["workflowInstanceId"],
                "status": "COMPLETED",
                "outputData": {"n": (n + 1) if isinstance(n, int) else 1},
                "workerId": worker_id,
            }
            response = await client.post("/api/tasks/update-v2", content=_encode(result), headers=JSON_HEADERS)
            if response.status_code == 200:
                body = response.content
                if body and body != b"null":
                    queue.append(_decode(body))
            elif response.status_code != 204:
                raise BenchError(
                    f"POST /api/tasks/update-v2 (task {task['taskId']}): expected 200 or 204, "
                    f"got {response.status_code}: {response.text[:500]}"
                )
            self.completed[task_type] += 1
            if self.on_completed is not None:
                self.on_completed(task_type, task)

    async def stop(self) -> None:
        """Let each coroutine finish the request it is in (a long poll ends by its timeout), then cancel the rest.

        Cancelling a long poll would leave it running in the server, which would keep holding a task it
        claimed for a client that is gone, and delay the server's shutdown.
        """
        self.stopping = True
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=self.poll_timeout_ms / 1000 + 5)
        for task in self.tasks:
            task.cancel()
        results = await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result


async def wait_for(event: asyncio.Event, watched: list[asyncio.Task[Any]], timeout: float, what: str) -> None:
    """Wait for ``event``; raise at once if a watched task fails, or after ``timeout`` seconds."""
    waiter = asyncio.create_task(event.wait())
    watching = set(watched)
    try:
        deadline = time.monotonic() + timeout
        while not event.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
            done, _ = await asyncio.wait([waiter, *watching], timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {waiter}:
                watching.discard(task)
                failure = None if task.cancelled() else task.exception()
                if failure is not None:
                    raise failure
    finally:
        waiter.cancel()


async def run_status(client: HttpClient, workflow_id: str) -> str:
    response = await client.get(f"/api/workflow/{workflow_id}/status")
    if response.status_code != 200:
        raise BenchError(
            f"GET /api/workflow/{workflow_id}/status: expected 200, got {response.status_code}: {response.text[:500]}"
        )
    status: str = _decode(response.content)["status"]
    return status


async def confirm_completed(client: HttpClient, ids: list[str], timeout: float) -> int:
    """Every id in ``ids`` reads COMPLETED (re-reading the ones still running, up to ``timeout``).

    Returns how many rounds of reads it took: 1 when all had already ended.
    """
    deadline = time.monotonic() + timeout
    pending = list(ids)
    rounds = 0
    while pending:
        rounds += 1
        statuses = await asyncio.gather(*(run_status(client, i) for i in pending))
        failed = [(i, s) for i, s in zip(pending, statuses, strict=True) if s not in ("RUNNING", "COMPLETED")]
        if failed:
            raise BenchError(f"runs ended other than COMPLETED: {failed[:5]}")
        pending = [i for i, s in zip(pending, statuses, strict=True) if s != "COMPLETED"]
        if pending:
            if time.monotonic() > deadline:
                raise BenchError(f"{len(pending)} runs still not COMPLETED after {timeout:.0f}s: {pending[:5]}")
            await asyncio.sleep(0.005)
    return rounds


def new_client(base_url: str) -> HttpClient:
    return HttpClient(base_url, timeout=30.0)


# -- workloads ------------------------------------------------------------------------------------


@dataclass
class Options:
    runs: int = 2000
    starters: int = 8
    workers_per_type: int = 4
    batch: int = 10
    executes: int = 300
    warmup: int = 30
    steps: int = 500
    timeout: float = 600.0
    verify_all: bool = True


async def workload_w1(base_url: str, store: str, opts: Options, meter: CpuMeter) -> dict[str, Any]:
    """``runs`` runs of a 3-step SIMPLE workflow, started async by concurrent starters, completed by workers."""
    task_types = ["bench_a", "bench_b", "bench_c"]
    workers = {task_type: opts.workers_per_type for task_type in task_types}
    return await _throughput(base_url, store, opts, meter, "W1", "bench_w1", task_types, workers, opts.starters)


async def workload_w5(base_url: str, store: str, opts: Options, meter: CpuMeter) -> dict[str, Any]:
    """W1 where every step has one task type: all the workers poll one queue, and more starters."""
    task_type = "bench_w5_task"
    workers = {task_type: 3 * opts.workers_per_type}
    starters = 2 * opts.starters
    return await _throughput(base_url, store, opts, meter, "W5", "bench_w5", [task_type] * 3, workers, starters)


async def _throughput(
    base_url: str,
    store: str,
    opts: Options,
    meter: CpuMeter,
    workload: str,
    name: str,
    task_types: list[str],
    workers: dict[str, int],
    starters: int,
) -> dict[str, Any]:
    """``opts.runs`` runs of a sequence of ``task_types``, started by ``starters`` coroutines, completed by workers."""
    runs = opts.runs
    steps = runs * len(task_types)
    async with new_client(base_url) as client:
        await register(client, sequence_workflow(name, task_types))
        done = asyncio.Event()
        finished_at: list[float] = []

        def on_completed(task_type: str, task: dict[str, Any]) -> None:
            if not done.is_set() and sum(pool.completed.values()) >= steps:
                finished_at.append(time.perf_counter())
                done.set()

        pool = WorkerPool(client, batch=opts.batch, poll_timeout_ms=1000, on_completed=on_completed)
        for task_type, coroutines in workers.items():
            pool.start(task_type, coroutines)
        await asyncio.sleep(0.3)  # the workers are in their long polls before the clock starts

        ids: list[str] = []
        next_index = 0
        start_path = f"/api/workflow/{name}"

        async def starter() -> None:
            nonlocal next_index
            while next_index < runs:
                index = next_index
                next_index += 1
                response = await client.post(start_path, content=_encode({"n": index}), headers=JSON_HEADERS)
                if response.status_code != 200:
                    raise BenchError(
                        f"POST {start_path}: expected 200 with the run id, got {response.status_code}: "
                        f"{response.text[:500]}"
                    )
                ids.append(response.text)

        meter.start()
        began = time.perf_counter()
        starting = [asyncio.create_task(starter(), name=f"starter-{i}") for i in range(starters)]
        try:
            await wait_for(done, [*pool.tasks, *starting], opts.timeout, f"{runs} runs to complete")
            await asyncio.gather(*starting)
            ended = finished_at[0]
            # The counter says every final step was acknowledged; a few reads confirm the runs ended.
            sample = ids[-5:] + random.sample(ids, min(15, len(ids)))
            if await confirm_completed(client, sample, timeout=30) > 1:
                ended = time.perf_counter()  # not all ended at the last acknowledgement: count until they did
            confirmed_at = time.perf_counter()
            meter.stop()
        finally:
            for task in starting:
                task.cancel()
            await pool.stop()
        seconds = ended - began
        result: dict[str, Any] = {
            "workload": workload,
            "store": store,
            "shape": f"{len(task_types)}-step SIMPLE sequence, {len(workers)} task type(s)",
            "runs": runs,
            "steps": steps,
            "seconds": round(seconds, 3),
            "runs_per_s": round(runs / seconds, 1),
            "steps_per_s": round(steps / seconds, 1),
            "confirm_ms": round((confirmed_at - ended) * 1000, 1),
            "starters": starters,
            "worker_coroutines": sum(workers.values()),
            "poll_batch": opts.batch,
        }
        if opts.verify_all:
            result["verified_completed"] = await verify_all(client, ids)
        return result


async def verify_all(client: HttpClient, ids: list[str]) -> int:
    """Untimed: read every run's status; all must be COMPLETED."""
    semaphore = asyncio.Semaphore(16)

    async def one(workflow_id: str) -> str:
        async with semaphore:
            return await run_status(client, workflow_id)

    statuses = await asyncio.gather(*(one(i) for i in ids))
    bad = [(i, s) for i, s in zip(ids, statuses, strict=True) if s != "COMPLETED"]
    if bad:
        raise BenchError(f"{len(bad)} of {len(ids)} runs are not COMPLETED: {bad[:5]}")
    return len(ids)


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


async def timed_executes(
    client: HttpClient,
    path: str,
    opts: Options,
    meter: CpuMeter,
    body_of: Callable[[int], dict[str, Any]],
    expected_output: Callable[[int], dict[str, Any]],
    watched: list[asyncio.Task[Any]],
) -> list[float]:
    """``opts.warmup`` uncounted, then ``opts.executes`` counted sequential sync executes; their latencies in ms."""
    headers = {**JSON_HEADERS, "waitForSeconds": "10"}
    latencies: list[float] = []

    async def execute(index: int) -> float:
        body = _encode(body_of(index))
        began = time.perf_counter()
        response = await client.post(path, content=body, headers=headers)
        elapsed = time.perf_counter() - began
        if response.status_code != 200:
            raise BenchError(f"POST {path}: expected 200, got {response.status_code}: {response.text[:500]}")
        run = _decode(response.content)
        if run.get("status") != "COMPLETED" or run.get("output") != expected_output(index):
            raise BenchError(
                f"POST {path}: expected a COMPLETED run with output {expected_output(index)}, got status "
                f"{run.get('status')!r} output {run.get('output')!r}"
            )
        return elapsed

    async def all_executes() -> None:
        for index in range(opts.warmup):
            await execute(index)
        meter.start()
        for index in range(opts.executes):
            latencies.append(await execute(opts.warmup + index))
        meter.stop()

    runner = asyncio.create_task(all_executes(), name="executes")
    finished = asyncio.Event()
    runner.add_done_callback(lambda _: finished.set())
    try:
        await wait_for(finished, watched, opts.timeout, f"{opts.executes} executes")
        await runner
    finally:
        runner.cancel()
    return sorted(v * 1000 for v in latencies)


def latency_figures(ms: list[float]) -> dict[str, Any]:
    return {
        "executes": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2),
        "mean_ms": round(sum(ms) / len(ms), 2),
        "min_ms": round(ms[0], 2),
    }


async def workload_w2(base_url: str, store: str, opts: Options, meter: CpuMeter) -> dict[str, Any]:
    """Sequential sync executes of a 1-step SIMPLE workflow; one worker waits in a long poll."""
    return await _latency(base_url, store, opts, meter, "W2", "bench_w2", 1)


async def workload_w6(base_url: str, store: str, opts: Options, meter: CpuMeter) -> dict[str, Any]:
    """W2 with W5's workers: every execute's one task is wanted by all of them."""
    return await _latency(base_url, store, opts, meter, "W6", "bench_w6", 3 * opts.workers_per_type)


async def _latency(
    base_url: str, store: str, opts: Options, meter: CpuMeter, workload: str, name: str, workers: int
) -> dict[str, Any]:
    """Sequential sync executes of a 1-step SIMPLE workflow; ``workers`` worker coroutines wait in long polls."""
    task_type = f"{name}_task"
    async with new_client(base_url) as worker_client, new_client(base_url) as client:
        await register(client, sequence_workflow(name, [task_type]))
        pool = WorkerPool(worker_client, batch=1, poll_timeout_ms=5000)
        pool.start(task_type, workers)
        await asyncio.sleep(0.3)
        try:
            ms = await timed_executes(
                client,
                f"/api/workflow/execute/{name}",
                opts,
                meter,
                lambda index: {"input": {"n": index}},
                lambda index: {"n": index + 1},
                [*pool.tasks],
            )
        finally:
            await pool.stop()
    return {
        "workload": workload,
        "store": store,
        "shape": "1-step SIMPLE, sync execute",
        **latency_figures(ms),
        "warmup": opts.warmup,
        "worker_coroutines": workers,
        "wait_for_seconds": 10,
    }


HELLO_WORLD = {
    "name": "bench_w4",
    "version": 1,
    "tasks": [
        {
            "name": "greet",
            "taskReferenceName": "greet",
            "type": "INLINE",
            "inputParameters": {
                "evaluatorType": "javascript",
                "expression": "'Hello, ' + $.name + '!'",
                "name": "${workflow.input.name}",
            },
        }
    ],
    "outputParameters": {"greeting": "${greet.output.result}"},
}


async def workload_w4(base_url: str, store: str, opts: Options, meter: CpuMeter) -> dict[str, Any]:
    """Sequential sync executes of a one-INLINE workflow (the example ``hello_world``'s shape): no worker."""
    async with new_client(base_url) as client:
        await register(client, HELLO_WORLD)
        ms = await timed_executes(
            client,
            "/api/workflow/execute/bench_w4",
            opts,
            meter,
            lambda index: {"input": {"name": f"n{index}"}},
            lambda index: {"greeting": f"Hello, n{index}!"},
            [],
        )
    return {
        "workload": "W4",
        "store": store,
        "shape": "1 INLINE script, sync execute",
        **latency_figures(ms),
        "warmup": opts.warmup,
    }


_FAN_OUT_SCRIPT = """(function () {
  var tasks = [], inputs = {};
  for (var i = 0; i < $.branches; i++) {
    tasks.push({name: $.taskType, taskReferenceName: 'b' + i, type: 'SIMPLE'});
    inputs['b' + i] = {n: i};
  }
  return {dynamicTasks: tasks, dynamicTasksInput: inputs};
})()"""


def fan_out_workflow(name: str, task_type: str) -> dict[str, Any]:
    """An INLINE script lists ``workflow.input.branches`` SIMPLE tasks (as Conductor's cookbook does), a
    FORK_JOIN_DYNAMIC runs them, a JOIN joins them; the run's output is the JOIN's."""
    return {
        "name": name,
        "version": 1,
        "schemaVersion": 2,
        "tasks": [
            {
                "name": "plan",
                "taskReferenceName": "plan",
                "type": "INLINE",
                "inputParameters": {
                    "evaluatorType": "javascript",
                    "expression": _FAN_OUT_SCRIPT,
                    "branches": "${workflow.input.branches}",
                    "taskType": task_type,
                },
            },
            {
                "name": "fan_out",
                "taskReferenceName": "fan_out",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {
                    "dynamicTasks": "${plan.output.result.dynamicTasks}",
                    "dynamicTasksInput": "${plan.output.result.dynamicTasksInput}",
                },
                "dynamicForkTasksParam": "dynamicTasks",
                "dynamicForkTasksInputParamName": "dynamicTasksInput",
            },
            {"name": "fan_in", "taskReferenceName": "fan_in", "type": "JOIN"},
        ],
        "outputParameters": {"joined": "${fan_in.output}"},
        "ownerEmail": "bench@example.com",
    }


async def workload_w3(base_url: str, store: str, opts: Options, meter: CpuMeter) -> dict[str, Any]:
    """One run that fans out ``steps`` SIMPLE tasks with FORK_JOIN_DYNAMIC and joins them; workers in batches."""
    name = "bench_w3"
    task_type = "bench_fan"
    steps = opts.steps
    refs = [f"b{i}" for i in range(steps)]
    run_input = {"branches": steps}
    async with new_client(base_url) as client:
        await register(client, fan_out_workflow(name, task_type))
        done = asyncio.Event()
        finished_at: list[float] = []

        def on_completed(_: str, task: dict[str, Any]) -> None:
            if pool.completed[task_type] >= steps and not done.is_set():
                finished_at.append(time.perf_counter())
                done.set()

        pool = WorkerPool(client, batch=opts.batch, poll_timeout_ms=1000, on_completed=on_completed)
        pool.start(task_type, opts.workers_per_type)
        await asyncio.sleep(0.3)
        try:
            meter.start()
            began = time.perf_counter()
            response = await client.post(f"/api/workflow/{name}", content=_encode(run_input), headers=JSON_HEADERS)
            if response.status_code != 200:
                raise BenchError(
                    f"POST /api/workflow/{name}: expected 200, got {response.status_code}: {response.text}"
                )
            workflow_id = response.text
            await wait_for(done, pool.tasks, opts.timeout, f"{steps} branches to complete")
            ended = finished_at[0]
            if await confirm_completed(client, [workflow_id], timeout=30) > 1:
                ended = time.perf_counter()
            confirmed_at = time.perf_counter()
            meter.stop()
        finally:
            await pool.stop()
        status = _decode((await client.get(f"/api/workflow/{workflow_id}/status")).content)
        joined = status.get("output", {}).get("joined") or {}
        if joined != {ref: {"n": i + 1} for i, ref in enumerate(refs)}:
            raise BenchError(f"W3 run output: expected the {steps} branches' outputs, got {len(joined)} entries")
    seconds = ended - began
    return {
        "workload": "W3",
        "store": store,
        "shape": f"FORK_JOIN_DYNAMIC-{steps}",
        "runs": 1,
        "steps": steps,
        "seconds": round(seconds, 3),
        "steps_per_s": round(steps / seconds, 1),
        "ms_per_step": round(seconds * 1000 / steps, 3),
        "confirm_ms": round((confirmed_at - ended) * 1000, 1),
        "worker_coroutines": opts.workers_per_type,
        "poll_batch": opts.batch,
    }


WORKLOAD_FUNCTIONS: dict[str, Callable[[str, str, Options, CpuMeter], Awaitable[dict[str, Any]]]] = {
    "W1": workload_w1,
    "W2": workload_w2,
    "W3": workload_w3,
    "W4": workload_w4,
    "W5": workload_w5,
    "W6": workload_w6,
}


# -- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Benchmark Baton against real `baton serve` subprocesses.")
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help="comma-separated subset of W1,W2,W3,W4,W5,W6")
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
    """Every chosen workload on one fresh server and database; returns the number of failed workloads."""
    failures = 0
    workdir = Path(tempfile.mkdtemp(prefix=f"baton-bench-{store}-"))
    try:
        with bench_database(store, workdir) as url, BenchServer(url, workdir / "server.log") as server:
            log(f"bench: {store}: baton serve pid {server.pid} on {server.url}")
            with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
                for workload in args.workload_list:
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
                        failures += 1
                        detail = f"{type(exc).__name__}: {exc}"
                        print(json.dumps({"workload": workload, "store": store, "error": detail}), flush=True)
                        log(f"bench: {workload} on {store} failed: {detail}\n--- server log (tail) ---")
                        log(server.log_tail())
                        continue
                    print(json.dumps(result), flush=True)
                    if server.process is not None and server.process.poll() is not None:
                        raise BenchError(f"baton serve exited during {workload}:\n{server.log_tail()}")
    except BenchError as exc:
        failures += 1
        print(json.dumps({"store": store, "error": str(exc).splitlines()[0]}), flush=True)
        log(f"bench: {store}: {exc}")
    finally:
        if args.keep_logs:
            log(f"bench: {store}: server log kept in {workdir / 'server.log'}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return failures


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
