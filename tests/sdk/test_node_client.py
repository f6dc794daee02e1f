"""The official JavaScript client, @io-orkes/conductor-javascript 4.0.0, against a real ``baton serve``.

Each test runs one scenario of ``tests/node/clients.mjs`` with ``node`` against the suite's server and
fails with the script's output when it exits non-zero. ``make test`` installs the client first
(``npm ci`` in ``tests/node``); without it these tests fail and say so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import conductor_key_env, unique

pytestmark = pytest.mark.timeout(120)

NODE_PROJECT = Path(__file__).parent.parent / "node"
SCRIPT = NODE_PROJECT / "clients.mjs"


def run_scenario(server: Any, scenario: str) -> None:
    node = shutil.which("node")
    assert node is not None, "node is not installed: Node 20 is needed to run the JavaScript client"
    installed = NODE_PROJECT / "node_modules" / "@io-orkes" / "conductor-javascript"
    assert installed.is_dir(), f"the JavaScript client is missing: `npm ci` in {NODE_PROJECT} (make test runs it)"
    env = {**os.environ, **conductor_key_env(), "CONDUCTOR_SERVER_URL": f"{server.url}/api"}
    done = subprocess.run(
        [node, str(SCRIPT), scenario, unique("node")],
        cwd=NODE_PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert done.returncode == 0, f"node {SCRIPT.name} {scenario} exited {done.returncode}:\n{done.stdout}{done.stderr}"


def test_worker_manager_and_runner_complete_a_run(server: Any) -> None:
    run_scenario(server, "worker")


def test_execute_workflow_returns_the_run(server: Any) -> None:
    run_scenario(server, "execute")


def test_test_workflow_runs_with_mocked_outputs(server: Any) -> None:
    run_scenario(server, "test-workflow")


def test_update_task_sync_returns_the_run(server: Any) -> None:
    run_scenario(server, "update-sync")
