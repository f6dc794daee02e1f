"""``baton keys create|list|revoke`` on the database, the keys they make used against a server of it."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.helpers import SHARED_TLS, unique

pytestmark = pytest.mark.timeout(120)


def baton(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "baton", *args], capture_output=True, text=True, check=False)


def test_keys_made_listed_and_revoked_from_the_cli(server: ServerProcess) -> None:
    task_type = unique("cli_type")
    made = baton(
        "keys", "create", "--role", "WORKER", "--task-type", task_type, "--name", "cli", "--db", server.database_url
    )
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)
    assert key["roles"] == ["WORKER"] and "shown this once" in made.stderr
    headers = {"Authorization": f"ApiKey {key['keyId']}:{key['keySecret']}"}
    with httpx.Client(base_url=server.url, headers=headers, verify=SHARED_TLS) as worker:
        assert worker.get(f"/api/tasks/poll/{task_type}").status_code == 204
        assert worker.get(f"/api/tasks/poll/{unique('other')}").status_code == 403

        listed = baton("keys", "list", "--db", server.database_url)
        assert listed.returncode == 0, listed.stderr
        line = next(row for row in listed.stdout.splitlines() if row.startswith(key["keyId"]))
        assert "ACTIVE" in line and "WORKER" in line and "cli" in line

        revoked = baton("keys", "revoke", key["keyId"], "--db", server.database_url)
        assert revoked.returncode == 0, revoked.stderr
        # Another process revoked it: this server sees it within its cache interval (2 s).
        for _ in range(40):
            if worker.get(f"/api/tasks/poll/{task_type}").status_code == 401:
                break
            time.sleep(0.1)
        assert worker.get(f"/api/tasks/poll/{task_type}").status_code == 401
    assert "INACTIVE" in next(
        row
        for row in baton("keys", "list", "--db", server.database_url).stdout.splitlines()
        if row.startswith(key["keyId"])
    )


def test_bad_cli_input_is_one_line_and_stores_nothing(server: ServerProcess) -> None:
    unknown = baton("keys", "create", "--role", "KING", "--db", server.database_url)
    assert unknown.returncode == 1 and "--role[0]" in unknown.stderr and "KING" in unknown.stderr
    missing = baton("keys", "revoke", "nosuch-key", "--db", server.database_url)
    assert missing.returncode == 1 and "nosuch-key" in missing.stderr
