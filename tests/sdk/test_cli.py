"""``baton worker module:function ...`` as a subprocess against a real server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from baton.model import WorkflowStatus
from baton.sdk import BatonClient
from tests.helpers import ADMIN_HEADERS, chain, quick_task_def, unique, wait_until_ended_as

pytestmark = pytest.mark.timeout(90)

HERE = Path(__file__).parent


def worker_process(url: str, *specs: str, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "baton", "worker", *specs, "--server", url, "--concurrency", "2"]
    # The specs name modules in this directory: the command imports them from its working directory.
    with log.open("wb") as out:  # the child has its own copy of the descriptor
        return subprocess.Popen(
            command,
            cwd=HERE,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


@pytest.fixture
def baton(server: Any) -> Iterator[BatonClient]:
    with BatonClient(server.url, timeout=30, headers=ADMIN_HEADERS) as client:
        yield client


def test_baton_worker_completes_a_workflow_and_stops_on_sigterm(
    server: Any, baton: BatonClient, tmp_path: Path
) -> None:
    name = unique("cli_flow")
    baton.register_workflow(chain(name, ["sdk_cli_add_one", "sdk_cli_double", "sdk_cli_square"]))
    workflow_id = baton.start_workflow(name, {"x": 2})
    log = tmp_path / "worker.log"
    process = worker_process(
        server.url,
        "sdk_workers:add_one",
        "sdk_workers:double",
        "sdk_workers:plain_square=sdk_cli_square",
        log=log,
    )
    try:
        run = wait_until_ended_as(baton, workflow_id, WorkflowStatus.COMPLETED, timeout=40)
        assert run.output == {"x": 36}, log.read_text()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_baton_worker_with_a_bad_spec_exits_2(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    process = worker_process("http://127.0.0.1:9", "sdk_workers:nope", log=log)
    try:
        assert process.wait(timeout=30) == 2
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert "nope" in log.read_text()


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_baton_worker_is_quiet_but_for_start_stop_and_failures(server: Any, baton: BatonClient, tmp_path: Path) -> None:
    """Polls (several a second here) say nothing at the default level; a task that fails is one warning."""
    name = unique("cli_refused")
    baton.register_task_defs([quick_task_def("sdk_cli_refuses")])
    baton.register_workflow(chain(name, ["sdk_cli_refuses"]))
    log = tmp_path / "worker.log"
    process = worker_process(server.url, "sdk_workers:refuses=sdk_cli_refuses", log=log)
    try:
        workflow_id = baton.start_workflow(name, {"x": 7})
        wait_until_ended_as(baton, workflow_id, WorkflowStatus.FAILED, timeout=40)
        time.sleep(1.5)  # a few dozen more empty polls
    finally:
        assert _stop(process) == 0, log.read_text()
    lines = log.read_text().splitlines()
    assert not [line for line in lines if "HTTP Request" in line], lines
    failures = [line for line in lines if "WARNING" in line and "failed: x=7 is not welcome" in line]
    assert len(failures) == 1, lines
    assert workflow_id in failures[0]
    assert any("polling sdk_cli_refuses" in line for line in lines), lines
    assert any("stopped" in line for line in lines), lines
    assert len(lines) <= 5, lines


def test_baton_worker_takes_a_file_path_from_another_folder(server: Any, baton: BatonClient, tmp_path: Path) -> None:
    name = unique("cli_by_path")
    baton.register_workflow(chain(name, ["sdk_cli_add_one", "sdk_cli_double"]))
    log = tmp_path / "worker.log"
    command = [sys.executable, "-m", "baton", "worker", str(HERE / "sdk_workers.py"), "--server", server.url]
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
    try:
        workflow_id = baton.start_workflow(name, {"x": 4})
        run = wait_until_ended_as(baton, workflow_id, WorkflowStatus.COMPLETED, timeout=40)
        assert run.output == {"x": 10}, log.read_text()
    finally:
        assert _stop(process) == 0, log.read_text()


def test_baton_worker_names_a_missing_file(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    process = worker_process("http://127.0.0.1:9", "no/such/workers.py", log=log)
    try:
        assert process.wait(timeout=30) == 2
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    assert "cannot import 'no/such/workers.py': no such file" in log.read_text()
