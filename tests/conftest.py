"""Fixtures shared by every suite: a database URL per store, and a real ``baton serve`` on a real socket."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from baton.store.testing import create_test_database, drop_test_database

STORES = ["sqlite", "postgres"]


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file in tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'baton.db'}"
        return
    url = create_test_database()
    try:
        yield url
    finally:
        drop_test_database(url)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test, dropped after it."""
    url = create_test_database()
    try:
        yield url
    finally:
        drop_test_database(url)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """A ``baton serve`` subprocess on its own port; it can be killed and started again on the same database."""

    def __init__(self, database_url: str, log_path: Path, extra_args: list[str] | None = None) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = log_path
        self._extra_args = extra_args or []
        self._process: subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def start(self, timeout: float = 30.0) -> None:
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
            *self._extra_args,
        ]
        self._close_log()
        self._log = self._log_path.open("ab")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self._process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"baton serve exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"baton serve did not become healthy:\n{self.log()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing; what was acknowledged must survive."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait(timeout=10)
        self._close_log()

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
        self._close_log()

    def log(self) -> str:
        return self._log_path.read_text(errors="replace") if self._log_path.exists() else ""

    @property
    def pid(self) -> int:
        """The running server's process id."""
        assert self._process is not None, "the server was never started"
        return self._process.pid


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A real ``baton serve`` on a fresh database of each store."""
    process = ServerProcess(store_url, tmp_path / "server.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    """Plain HTTP against the server: tests of the wire use this, not the SDK."""
    with httpx.Client(base_url=server.url, timeout=30.0) as http:
        yield http
