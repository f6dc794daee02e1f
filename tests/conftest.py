"""Fixtures shared by every suite: a database URL per store, and a real ``baton serve`` on a real socket.

The ``server`` fixture is one ``baton serve`` per store for the whole session; tests keep apart by the
names they give their workflows and task types (each file its own, and ``tests.helpers.unique`` where a
test runs more than once). A file whose tests assert on everything a server holds (search totals) is
marked ``file_server`` and shares a server of its own; a test that kills, restarts or configures its
server, or asserts on the whole database, is marked ``own_server`` and gets a fresh one.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import os
import signal
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest

from baton.config import Settings
from baton.service import Baton
from baton.store import open_store
from baton.store.testing import create_test_database, release_test_database
from tests.helpers import ADMIN_HEADERS, ADMIN_KEY_ID, ADMIN_KEY_SECRET, SHARED_TLS
from tests.server_forks import ForkedServer, ServerLauncher

KNOWN_STORES = ("sqlite", "postgres")


def stores_to_test(chosen: str) -> list[str]:
    """The stores the suite runs on: ``BATON_TEST_STORES`` (comma-separated), both when it is unset or empty."""
    stores = [store.strip() for store in chosen.split(",") if store.strip()] or list(KNOWN_STORES)
    unknown = sorted(set(stores) - set(KNOWN_STORES))
    if unknown:
        known = ", ".join(KNOWN_STORES)
        raise pytest.UsageError(f"BATON_TEST_STORES: unknown store {', '.join(unknown)}; the stores are {known}")
    return stores


STORES = stores_to_test(os.environ.get("BATON_TEST_STORES", ""))


@contextmanager
def fresh_database(store: str, folder: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file in ``folder``, or a PostgreSQL one (``create_test_database``), released
    after (emptied for the next test of this process, or dropped: ``release_test_database``)."""
    if store == "sqlite":
        yield f"sqlite:///{folder / 'baton.db'}"
        return
    url = create_test_database()
    try:
        yield url
    finally:
        release_test_database(url)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests spread over the first quarter of the run, each file's evenly, the rest in their order between
    them: xdist's ``load`` schedule starts each worker on a run of consecutive tests from that quarter, so each
    worker starts its share of the longest tests at once, side by side, instead of one worker getting them all and
    becoming the tail (see "The suite's time" in docs/design.md)."""
    slow_by_file: dict[Path, list[pytest.Item]] = {}
    rest: list[pytest.Item] = []
    for item in items:
        if item.get_closest_marker("slow") is not None:
            slow_by_file.setdefault(item.path, []).append(item)
        else:
            rest.append(item)
    slow = [
        item
        for _, _, item in sorted(
            ((index + 0.5) / len(tests), order, item)
            for order, tests in enumerate(slow_by_file.values())
            for index, item in enumerate(tests)
        )
    ]
    if not slow:
        return
    gap = max(0, len(items) // 4 // len(slow) - 1)
    others = iter(rest)
    ordered: list[pytest.Item] = []
    for item in slow:
        ordered.append(item)
        ordered.extend(itertools.islice(others, gap))
    ordered.extend(others)
    items[:] = ordered


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file in tmp_path, or a new PostgreSQL database."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@contextlib.asynccontextmanager
async def service_on(store_url: str) -> AsyncIterator[Baton]:
    """The service in this process over the database at ``store_url`` (no server, no wake-ups), closed after."""
    store = open_store(store_url)
    await store.open()
    try:
        yield Baton(store, Settings(database_url=store_url))
    finally:
        await store.close()


@pytest.fixture
async def baton(store_url: str) -> AsyncIterator[Baton]:
    """The service in this process, on a fresh database of each store."""
    async with service_on(store_url) as service:
        yield service


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test, released after it."""
    url = create_test_database()
    try:
        yield url
    finally:
        release_test_database(url)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


LOCAL_RECEIVERS = {"BATON_OUTBOUND_ALLOW_NETWORKS": "127.0.0.0/8"}
"""Test servers call receivers on 127.0.0.1; a test of the outbound guard passes its own value (even "")."""
TEST_ADMIN_KEY = {"BATON_ADMIN_KEY_ID": ADMIN_KEY_ID, "BATON_ADMIN_KEY_SECRET": ADMIN_KEY_SECRET}
"""Every test server's first ADMIN key: tests send it as ``ADMIN_HEADERS`` (or the SDK reads it from
``BATON_KEY_ID`` / ``BATON_KEY_SECRET``, set for this process below); a test of the first start passes its own env."""
TEST_SECRETS_KEY = {"BATON_SECRETS_KEY": base64.b64encode(bytes(range(32))).decode()}
"""Every test server's key for secrets at rest; a test of a server without one passes ``BATON_SECRETS_KEY=""``."""
os.environ.setdefault("BATON_KEY_ID", ADMIN_KEY_ID)
os.environ.setdefault("BATON_KEY_SECRET", ADMIN_KEY_SECRET)


LAUNCHER = ServerLauncher()
"""This process's servers are forked from one process that has imported them once (``tests.server_forks``)."""


def pytest_sessionfinish() -> None:
    LAUNCHER.close()


class ServerProcess:
    """A ``baton serve`` subprocess on its own port; it can be killed and started again on the same database."""

    def __init__(
        self,
        database_url: str,
        log_path: Path,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log_path = log_path
        self._extra_args = extra_args or []
        self._env = env or {}
        self._process: ForkedServer | subprocess.Popen[bytes] | None = None
        self._log: BinaryIO | None = None

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def start(self, timeout: float = 30.0) -> None:
        arguments = [
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
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            **LOCAL_RECEIVERS,
            **TEST_ADMIN_KEY,
            **TEST_SECRETS_KEY,
            **self._env,
        }
        self._process = LAUNCHER.start(arguments, env, self._log)
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0, verify=SHARED_TLS) as http:
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    raise RuntimeError(f"baton serve exited early:\n{self.log()}")
                try:
                    if http.get(f"{self.url}/health").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
        raise RuntimeError(f"baton serve did not become healthy:\n{self.log()}")

    @property
    def pid(self) -> int:
        """The running server's process id (to read its memory in /proc, or to signal it)."""
        assert self._process is not None and self._process.poll() is None, "the server is not running"
        return self._process.pid

    def assert_running(self) -> None:
        """Fails with the server's log when it has died (a shared server must outlive every test)."""
        if self._process is None or self._process.poll() is not None:
            raise RuntimeError(f"baton serve is not running:\n{self.log()}")

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

    def client(self, **options: Any) -> httpx.Client:
        """Plain HTTP to this server with the test ADMIN key (``headers`` given are added to it)."""
        headers = {**ADMIN_HEADERS, **options.pop("headers", {})}
        options.setdefault("timeout", 30.0)
        options.setdefault("verify", SHARED_TLS)
        return httpx.Client(base_url=self.url, headers=headers, **options)


@contextmanager
def running_server(store: str, folder: Path, env: dict[str, str] | None = None) -> Iterator[ServerProcess]:
    """A ``baton serve`` on a fresh database of ``store`` (with ``env`` added to its environment), stopped (and its
    database released) after."""
    with fresh_database(store, folder) as url:
        process = ServerProcess(url, folder / "server.log", env=env)
        process.start()
        try:
            yield process
        finally:
            process.stop()


@pytest.fixture
def two_servers(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two ``baton serve`` processes sharing one fresh PostgreSQL database."""
    url = create_test_database()
    first, second = ServerProcess(url, tmp_path / "first.log"), ServerProcess(url, tmp_path / "second.log")
    try:
        first.start()
        second.start()
        yield first, second
    finally:
        first.stop()
        second.stop()
        release_test_database(url)


@pytest.fixture(scope="module", params=STORES)
def server_store(request: pytest.FixtureRequest) -> str:
    """The store of the servers a test file runs against; pytest runs a file's tests store by store."""
    store: str = request.param
    return store


@pytest.fixture(scope="session")
def session_sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server("sqlite", tmp_path_factory.mktemp("session-sqlite")) as process:
        yield process


@pytest.fixture(scope="session")
def session_postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server("postgres", tmp_path_factory.mktemp("session-postgres")) as process:
        yield process


@pytest.fixture(scope="module")
def file_server(server_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of the file's own, for the tests of a ``file_server`` file."""
    with running_server(server_store, tmp_path_factory.mktemp(f"file-{server_store}")) as process:
        yield process


@pytest.fixture
def server(request: pytest.FixtureRequest, server_store: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A real ``baton serve`` of each store: the session's, the file's (``file_server``) or the test's own
    (``own_server``)."""
    if request.node.get_closest_marker("own_server") is not None:
        with running_server(server_store, tmp_path) as process:
            yield process
        return
    if request.node.get_closest_marker("file_server") is not None:
        shared: ServerProcess = request.getfixturevalue("file_server")
    else:
        shared = request.getfixturevalue(f"session_{server_store}_server")
    shared.assert_running()
    yield shared


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    """Plain HTTP against the server: tests of the wire use this, not the SDK."""
    with server.client() as http:
        yield http
