"""The launcher the suite's servers are forked from: a fork is a server of its own, configured by the environment it
was given, signalled, waited for and read like a process started from scratch; an environment a fork could not
honour gets a fresh interpreter."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from tests.conftest import ServerProcess
from tests.server_forks import LAUNCHER_ENVIRONMENT, ForkedServer, may_fork


def test_a_forked_server_takes_its_settings_from_the_environment_it_was_given(store_url: str, tmp_path: Path) -> None:
    server = ServerProcess(store_url, tmp_path / "server.log", env={"BATON_MAX_BODY_BYTES": "2048"})
    server.start()
    try:
        assert isinstance(server._process, ForkedServer)
        with server.client() as client:
            too_big = client.post("/api/metadata/workflow", content=b"[" + b" " * 4096 + b"]")
        assert too_big.status_code == 413, too_big.text
        assert f"serving on http://127.0.0.1:{server.port}" in server.log()
    finally:
        server.stop()
    assert server._process.returncode == -signal.SIGTERM, "uvicorn ends by raising the signal it was stopped by"


def test_a_killed_fork_is_reported_killed_and_is_gone(store_url: str, tmp_path: Path) -> None:
    killed = ServerProcess(store_url, tmp_path / "killed.log")
    killed.start()
    pid = killed.pid
    killed.kill()
    assert killed._process is not None and killed._process.poll() == -signal.SIGKILL
    assert not Path(f"/proc/{pid}").exists()


def test_an_environment_a_fork_cannot_honour_starts_a_fresh_interpreter(store_url: str, tmp_path: Path) -> None:
    server = ServerProcess(store_url, tmp_path / "server.log", env={"MALLOC_ARENA_MAX": "2"})
    server.start()
    try:
        assert isinstance(server._process, subprocess.Popen)
        environment = Path(f"/proc/{server.pid}/environ").read_bytes().split(b"\0")
        assert b"MALLOC_ARENA_MAX=2" in environment
    finally:
        server.stop()
    assert may_fork({**LAUNCHER_ENVIRONMENT, "BATON_ANYTHING": "1", "PYTEST_CURRENT_TEST": "x"})
    assert not may_fork({**LAUNCHER_ENVIRONMENT, "TZ": "Asia/Tokyo"})
