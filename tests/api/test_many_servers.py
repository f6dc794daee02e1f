"""Many ``baton serve`` processes on one PostgreSQL database: no process is special."""

from __future__ import annotations

import threading
import time

from tests.conftest import ServerProcess
from tests.helpers import complete, poll, register, simple_workflow, unique


def test_a_sync_execute_on_one_server_is_answered_by_a_worker_of_another(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    first_server, second_server = two_servers
    with (
        first_server.client(timeout=30) as first,
        second_server.client(timeout=30) as second,
    ):
        register(first, simple_workflow("shared", ["remote_step"]))

        def worker() -> None:
            tasks = poll(second, "remote_step", timeout_ms=15_000)
            assert complete(second, tasks[0], {"served_by": "second"}).status_code == 200

        thread = threading.Thread(target=worker)
        thread.start()
        response = first.post("/api/workflow/execute/shared", json={}, params={"waitForSeconds": 20})
        thread.join()
        assert response.status_code == 200, response.text
        assert response.json()["output"] == {"served_by": "second"}


def test_polls_on_one_server_show_on_another(two_servers: tuple[ServerProcess, ServerProcess]) -> None:
    """Each server writes its polls to the shared table within about a second of them."""
    first_server, second_server = two_servers
    task_type = unique("shared_polls")
    with first_server.client() as first, second_server.client() as second:
        first.get(f"/api/tasks/poll/{task_type}", params={"workerid": "on-first"})
        second.get(f"/api/tasks/poll/{task_type}", params={"workerid": "on-second"})
        deadline = time.monotonic() + 10
        while True:
            seen = [
                sorted(p["workerId"] for p in c.get("/api/tasks/queue/polldata", params={"taskType": task_type}).json())
                for c in (first, second)
            ]
            if seen == [["on-first", "on-second"]] * 2:
                break
            assert time.monotonic() < deadline, seen
            time.sleep(0.1)
