"""A /health prober: a child process GETs a server's /health every 50 ms and the test reads the latencies.

The prober runs in a process of its own, so neither the test's own work nor its GIL delays a probe:
what it measures is the server. It keeps one connection (opening a new one after any failure); a probe
that fails, answers other than 200 or takes longer than its timeout counts as infinite. Each sample
carries its start on the monotonic clock (the same clock in every process on Linux), so a test can ask
for the worst latency over any stretch of time::

    with HealthProber(server.url) as prober:
        ...  # the attack
        prober.assert_worst_below(0.1)

Run as a script (``python health_prober.py URL INTERVAL_MS TIMEOUT_MS``) it is the child: it prints
``ready``, then one line ``<start> <latency seconds or inf> <status>`` per probe, and ends after the
probe in flight when it gets SIGTERM or its parent goes away. Standard library only, so it starts fast.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from http.client import HTTPConnection, HTTPException
from types import FrameType, TracebackType
from urllib.parse import urlsplit

DEFAULT_INTERVAL_MS = 50
DEFAULT_TIMEOUT_MS = 1000


@dataclass(frozen=True)
class Sample:
    started: float
    """time.monotonic() when the probe was sent."""
    latency: float
    """Seconds until the whole answer was read; math.inf for a failure, a timeout or a status other than 200."""
    status: str
    """The HTTP status, or the name of the error."""


class HealthProber:
    """Probes ``<url>/health`` every ``interval_ms`` from a child process until stopped."""

    def __init__(self, url: str, interval_ms: int = DEFAULT_INTERVAL_MS, timeout_ms: int = DEFAULT_TIMEOUT_MS) -> None:
        self.url = url
        self.interval_ms = interval_ms
        self.timeout_ms = timeout_ms
        self._samples: list[Sample] = []
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None
        self._ready = threading.Event()

    def start(self, timeout: float = 10.0) -> HealthProber:
        """Start probing; returns once the first probe has been answered (or failed)."""
        command = [sys.executable, os.path.abspath(__file__), self.url, str(self.interval_ms), str(self.timeout_ms)]
        self._process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1)
        self._reader = threading.Thread(target=self._read, args=(self._process,), name="health-prober", daemon=True)
        self._reader.start()
        if not self._ready.wait(timeout):
            self.stop()
            raise RuntimeError("the /health prober did not start")
        deadline = time.monotonic() + timeout
        while not self.samples() and time.monotonic() < deadline:
            time.sleep(0.01)
        return self

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            if line.strip() == "ready":
                self._ready.set()
                continue
            started, latency, status = line.split()
            with self._lock:
                self._samples.append(Sample(float(started), float(latency), status))

    def stop(self) -> None:
        """Stop after the probe in flight (so a server that stopped answering is recorded as such)."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.timeout_ms / 1000 + 5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._reader is not None:
            self._reader.join(timeout=5)
        if process.stdout is not None:
            process.stdout.close()

    def __enter__(self) -> HealthProber:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def samples(self, since: float | None = None, until: float | None = None) -> list[Sample]:
        """The probes sent in [since, until] (monotonic seconds), all of them by default."""
        with self._lock:
            taken = list(self._samples)
        return [s for s in taken if (since is None or s.started >= since) and (until is None or s.started <= until)]

    def worst(self, since: float | None = None, until: float | None = None) -> float:
        """The worst latency in seconds over the probes sent in the window (inf if any failed)."""
        window = self.samples(since, until)
        if not window:
            raise AssertionError(f"no /health probe was sent in the window ({since}, {until})")
        return max(s.latency for s in window)

    def describe(self, since: float | None = None, until: float | None = None) -> str:
        window = self.samples(since, until)
        failed = [s for s in window if math.isinf(s.latency)]
        slowest = sorted(window, key=lambda s: s.latency, reverse=True)[:5]
        shown = ", ".join(f"{s.latency * 1000:.0f} ms ({s.status})" for s in slowest)
        return f"{len(window)} probes, {len(failed)} failed or timed out; slowest: {shown}"

    def assert_worst_below(self, bound: float, since: float | None = None, until: float | None = None) -> None:
        """Fail unless every probe in the window was answered 200 in under ``bound`` seconds."""
        worst = self.worst(since, until)
        assert worst < bound, f"/health took {worst * 1000:.0f} ms (bound {bound * 1000:.0f} ms): " + self.describe(
            since, until
        )


def _probe_forever(url: str, interval: float, timeout: float) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    stopping = False

    def on_term(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    connection: HTTPConnection | None = None
    print("ready", flush=True)
    next_at = time.monotonic()
    while not stopping and os.getppid() == parent:
        started = time.monotonic()
        try:
            if connection is None:
                connection = HTTPConnection(host, port, timeout=timeout)
            connection.request("GET", "/health")
            response = connection.getresponse()
            response.read()
            elapsed = time.monotonic() - started
            status = str(response.status)
            latency = elapsed if response.status == 200 and elapsed <= timeout else math.inf
            if response.will_close:
                connection.close()
                connection = None
        except (OSError, HTTPException) as exc:
            latency, status = math.inf, type(exc).__name__
            if connection is not None:
                connection.close()
            connection = None
        print(f"{started:.6f} {latency} {status}", flush=True)
        next_at += interval
        now = time.monotonic()
        if next_at < now:
            next_at = now
        time.sleep(next_at - now)


if __name__ == "__main__":
    _probe_forever(sys.argv[1], int(sys.argv[2]) / 1000, int(sys.argv[3]) / 1000)
