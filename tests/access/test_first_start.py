"""The first start on an empty database makes an ADMIN key, prints it once and writes it to a credentials file only
its owner may read, which the CLI and the SDK pick up; ``--no-auth`` lets everyone in and says so everywhere."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from baton.sdk import BatonClient
from baton.sdk.client.errors import BatonApiError
from tests.conftest import ServerProcess, fresh_database
from tests.helpers import ADMIN_KEY_ID, ADMIN_KEY_SECRET, SHARED_TLS

pytestmark = pytest.mark.timeout(120)

NO_CONFIGURED_KEY = {"BATON_ADMIN_KEY_ID": "", "BATON_ADMIN_KEY_SECRET": ""}


def test_the_first_start_makes_an_admin_key_once(server_store: str, tmp_path: Path) -> None:
    credentials = tmp_path / "config" / "credentials.json"
    env = {**NO_CONFIGURED_KEY, "BATON_CREDENTIALS_FILE": str(credentials)}
    with fresh_database(server_store, tmp_path) as url:
        process = ServerProcess(url, tmp_path / "server.log", env=env)
        process.start()
        try:
            assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
            written = json.loads(credentials.read_text())
            assert written["serverUrl"] == process.url
            assert process.log().count(written["keySecret"]) == 1, "the secret is printed once"
            key = f"{written['keyId']}:{written['keySecret']}"
            with httpx.Client(base_url=process.url, verify=SHARED_TLS) as client:
                assert client.get("/api/metadata/workflow").status_code == 401
                answer = client.get("/api/metadata/workflow", headers={"Authorization": f"Bearer {key}"})
                assert answer.status_code == 200
            first = credentials.read_text()
            process.stop()
            process.start()
            assert credentials.read_text() == first, "a restart makes no second key"
            assert process.log().count("made the first ADMIN access key") == 1

            clean_env = {k: v for k, v in os.environ.items() if k not in ("BATON_KEY_ID", "BATON_KEY_SECRET")}
            token = subprocess.run(
                [sys.executable, "-m", "baton", "token"],
                env={**clean_env, "BATON_CREDENTIALS_FILE": str(credentials)},
                capture_output=True,
                text=True,
                check=False,
            )
            assert token.returncode == 0, token.stderr
            headers = {"X-Authorization": token.stdout.strip()}
            assert httpx.get(f"{process.url}/api/metadata/workflow", headers=headers).status_code == 200
        finally:
            process.stop()


def test_the_sdk_reads_the_credentials_file(
    server: ServerProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BATON_KEY_ID")
    monkeypatch.delenv("BATON_KEY_SECRET")
    monkeypatch.setenv("BATON_CREDENTIALS_FILE", str(tmp_path / "none.json"))
    with BatonClient(server.url) as anonymous, pytest.raises(BatonApiError) as refused:
        anonymous.list_workflow_defs()
    assert refused.value.status_code == 401
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"keyId": ADMIN_KEY_ID, "keySecret": ADMIN_KEY_SECRET}))
    monkeypatch.setenv("BATON_CREDENTIALS_FILE", str(path))
    with BatonClient(server.url) as client:
        assert isinstance(client.list_workflow_defs(), list)
    with BatonClient(server.url, key_id=ADMIN_KEY_ID, key_secret="wrong") as wrong, pytest.raises(BatonApiError) as bad:
        wrong.list_workflow_defs()
    assert bad.value.status_code == 401


def test_no_auth_lets_everyone_in_and_says_so(server_store: str, tmp_path: Path) -> None:
    with fresh_database(server_store, tmp_path) as url:
        process = ServerProcess(url, tmp_path / "server.log", ["--no-auth"], env=NO_CONFIGURED_KEY)
        process.start()
        try:
            with httpx.Client(base_url=process.url, verify=SHARED_TLS) as client:
                listed = client.get("/api/metadata/workflow")
                assert listed.status_code == 200 and listed.headers["x-baton-auth"] == "off"
                assert client.get("/api/applications").status_code == 200
                assert client.get("/health").headers["x-baton-auth"] == "off"
                assert client.get("/elsa/api/workflow-instances").headers["x-baton-auth"] == "off"
            assert "auth is OFF" in process.log()
        finally:
            process.stop()
