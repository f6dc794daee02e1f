"""``concurrentExecLimit`` and ``rateLimitPerFrequency`` through a real server on both stores, and across
several servers on one PostgreSQL database: polls get fewer tasks (or none), the rest stay queued."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from baton.store.testing import create_test_database, release_test_database
from tests.conftest import ServerProcess
from tests.helpers import complete, poll, queue_size, register, simple_workflow, start


def limited(client: httpx.Client, name: str, **limits: Any) -> None:
    response = client.post("/api/metadata/taskdefs", json=[{"name": name, **limits}])
    assert response.status_code == 200, response.text
    register(client, simple_workflow(f"{name}_flow", [name]))


def update_v2(client: httpx.Client, task: dict[str, Any]) -> dict[str, Any] | None:
    result = {"taskId": task["taskId"], "workflowInstanceId": task["workflowInstanceId"], "status": "COMPLETED"}
    response = client.post("/api/tasks/update-v2", json=result)
    assert response.status_code in (200, 204), response.text
    next_task: dict[str, Any] | None = response.json() if response.status_code == 200 else None
    return next_task


def test_concurrent_exec_limit_caps_the_tasks_in_progress(client: httpx.Client) -> None:
    limited(client, "scarce", concurrentExecLimit=2)
    for _ in range(5):
        start(client, "scarce_flow")
    first = poll(client, "scarce", count=5)
    assert len(first) == 2
    assert poll(client, "scarce", count=5, timeout_ms=300) == []
    assert queue_size(client, "scarce") == 3
    assert complete(client, first[0]).status_code == 200
    (third,) = poll(client, "scarce", count=5)
    # A worker's update-v2 frees its slot and takes the next task in the same transaction.
    fourth = update_v2(client, third)
    assert fourth is not None and fourth["status"] == "IN_PROGRESS"
    assert poll(client, "scarce", count=5, timeout_ms=300) == []
    assert queue_size(client, "scarce") == 1


def test_rate_limit_caps_hand_outs_per_window(client: httpx.Client) -> None:
    limited(client, "metered", rateLimitPerFrequency=2, rateLimitFrequencyInSeconds=600)
    for _ in range(4):
        start(client, "metered_flow")
    handed = poll(client, "metered", count=4)
    assert len(handed) == 2
    for task in handed:
        assert complete(client, task).status_code == 200
    # Finished or not, the window's two hand-outs are spent: the rest wait for the next window.
    assert poll(client, "metered", count=4, timeout_ms=300) == []
    assert queue_size(client, "metered") == 2


def test_update_v2_respects_the_rate_limit(client: httpx.Client) -> None:
    limited(client, "throttled", rateLimitPerFrequency=2, rateLimitFrequencyInSeconds=600)
    for _ in range(3):
        start(client, "throttled_flow")
    (first,) = poll(client, "throttled")
    second = update_v2(client, first)
    assert second is not None
    assert update_v2(client, second) is None
    assert queue_size(client, "throttled") == 1


def test_a_type_without_limits_is_handed_out_freely(client: httpx.Client) -> None:
    limited(client, "plenty", concurrentExecLimit=0, rateLimitPerFrequency=0)
    for _ in range(4):
        start(client, "plenty_flow")
    assert len(poll(client, "plenty", count=4)) == 4


@pytest.fixture
def three_servers(tmp_path: Path) -> Iterator[list[ServerProcess]]:
    url = create_test_database()
    servers = [ServerProcess(url, tmp_path / f"server{i}.log") for i in range(3)]
    try:
        for server in servers:
            server.start()
        yield servers
    finally:
        for server in servers:
            server.stop()
        release_test_database(url)


def test_limits_hold_across_servers_on_one_postgresql(three_servers: list[ServerProcess]) -> None:
    clients = [server.client(timeout=30) for server in three_servers]
    try:
        limited(clients[0], "shared_scarce", concurrentExecLimit=3)
        limited(clients[0], "shared_metered", rateLimitPerFrequency=4, rateLimitFrequencyInSeconds=600)
        for _ in range(12):
            start(clients[0], "shared_scarce_flow")
            start(clients[0], "shared_metered_flow")
        claimed: dict[str, list[str]] = {"shared_scarce": [], "shared_metered": []}
        lock = threading.Lock()

        def worker(client: httpx.Client, task_type: str) -> None:
            for _ in range(4):
                tasks = poll(client, task_type, count=3, timeout_ms=0)
                with lock:
                    claimed[task_type].extend(t["taskId"] for t in tasks)

        threads = [
            threading.Thread(target=worker, args=(client, task_type))
            for client in clients
            for task_type in claimed
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(claimed["shared_scarce"]) == 3
        assert len(claimed["shared_metered"]) == 4
        assert len(set(claimed["shared_scarce"])) == 3
        assert queue_size(clients[1], "shared_scarce") == 9
        assert queue_size(clients[2], "shared_metered") == 8
    finally:
        for client in clients:
            client.close()
