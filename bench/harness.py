"""The benchmark's harness: the machine header, CPU meters, a fresh database, a ``baton serve`` subprocess, py-spy."""

from __future__ import annotations

import contextlib
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SERVER_TREE = Path(os.environ.get("BATON_BENCH_SERVER_TREE") or REPO).resolve()
"""The tree whose ``baton`` the servers run: ``python -m baton`` puts its working directory on ``sys.path`` ahead of
PYTHONPATH, so the server's working directory decides the code. ``bench/compare.py`` names the base's worktree here
(before, both of its trees' servers ran this tree's code)."""

CLIENT = "bench/rawhttp.py (HTTP/1.1 keep-alive, one connection per coroutine) on one uvloop event loop"

_ADMIN_KEY_ID, _ADMIN_KEY_SECRET = "bench-admin", f"bench-admin-secret-{secrets.token_hex(16)}"
ADMIN_KEY_ENV = {"BATON_ADMIN_KEY_ID": _ADMIN_KEY_ID, "BATON_ADMIN_KEY_SECRET": _ADMIN_KEY_SECRET}
"""The first ADMIN key of every server the benchmark starts (a new secret each benchmark process)."""
ADMIN_HEADERS = {"Authorization": f"Bearer {_ADMIN_KEY_ID}:{_ADMIN_KEY_SECRET}"}
"""What the benchmark's clients send to those servers: the key itself."""


class BenchError(Exception):
    """The server answered something the benchmark did not expect, or a workload ran out of time."""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _baton_commit() -> str | None:
    """The repository's commit, with ``+dirty`` when tracked files under baton/ differ from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=SERVER_TREE,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "baton"], cwd=SERVER_TREE, capture_output=True, text=True, timeout=10
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
                cwd=SERVER_TREE,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **ADMIN_KEY_ENV},
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
