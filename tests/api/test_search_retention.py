"""Retention through a real server: finished runs past the setting go, with their tasks; the others stay."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.helpers import poll, register, simple_workflow, start, wait_for_status

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def retaining_client(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """A server that deletes runs about 10 ms after they finished, and looks every 100 ms."""
    monkeypatch.setenv("BATON_RETENTION_INTERVAL_MS", "100")
    process = ServerProcess(store_url, tmp_path / "server.log", ["--retention-days", str(10 / 86_400_000)])
    process.start()
    try:
        with process.client(timeout=30.0) as http:
            yield http
    finally:
        process.stop()


def wait_until_gone(client: httpx.Client, workflow_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while client.get(f"/api/workflow/{workflow_id}").status_code != 404:
        assert time.monotonic() < deadline, f"run {workflow_id} was not deleted"
        time.sleep(0.05)


def test_finished_runs_are_deleted_and_running_ones_kept(retaining_client: httpx.Client) -> None:
    client = retaining_client
    register(client, simple_workflow("kept_and_gone", ["chore"]))
    running = start(client, "kept_and_gone", correlationId="stays")
    (running_task,) = poll(client, "chore")
    finished = start(client, "kept_and_gone", correlationId="goes")
    wait_for_status(client, finished, "RUNNING")
    assert client.delete(f"/api/workflow/{finished}").status_code == 200
    finished_tasks = client.get("/api/tasks/search", params={"query": f"workflowId = {finished}"}).json()["results"]
    assert len(finished_tasks) == 1

    wait_until_gone(client, finished)

    assert client.get(f"/api/tasks/{finished_tasks[0]['taskId']}").status_code == 404
    assert client.get("/api/workflow/search", params={"query": "correlationId = goes"}).json()["totalHits"] == 0
    assert client.get(f"/api/workflow/{running}").json()["status"] == "RUNNING"
    assert client.get(f"/api/tasks/{running_task['taskId']}").status_code == 200
    assert client.get("/api/workflow/running/kept_and_gone").json() == [running]
