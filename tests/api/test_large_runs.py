"""Large runs read in pages or streamed, over the wire on both stores.

``GET /api/workflow/{id}/tasks`` pages through a run's tasks (Conductor's
``TaskListSearchResultSummary``); ``GET /api/workflow/{id}`` of a run with more
tasks than one page streams it, read a page at a time, and ``/health`` keeps
answering meanwhile; ``includeTasks=false`` leaves the tasks out.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.helpers import ADMIN_HEADERS, SHARED_TLS, complete, dynamic_fork_steps, poll, register, start

pytestmark = pytest.mark.timeout(300)

HEALTH_BOUND_MS = 100.0


def fan_out(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": 1,
        "tasks": dynamic_fork_steps(),
    }


def start_fan_out(client: httpx.Client, name: str, branches: int, task_type: str) -> str:
    refs = [f"b{i}" for i in range(branches)]
    register(client, fan_out(name))
    payload = {
        "tasks": [{"name": task_type, "taskReferenceName": ref, "type": "SIMPLE"} for ref in refs],
        "inputs": {ref: {"i": i, "pad": "x" * 200} for i, ref in enumerate(refs)},
    }
    return start(client, name, payload)


@pytest.fixture
def big_body_server(store_url: str, tmp_path: Any) -> Iterator[tuple[ServerProcess, httpx.Client]]:
    """A server that takes the start request of a 20,000-branch fan-out (7 MB)."""
    process = ServerProcess(store_url, tmp_path / "server.log", ["--max-body-bytes", str(32 << 20)])
    process.start()
    try:
        with process.client(timeout=120.0) as http:
            yield process, http
    finally:
        process.stop()


def test_include_tasks_false_leaves_the_tasks_out(client: httpx.Client) -> None:
    workflow_id = start_fan_out(client, "large_header", 3, "large_header_work")
    with_tasks = client.get(f"/api/workflow/{workflow_id}").json()
    assert len(with_tasks["tasks"]) == 5  # the fork, three branches, the join
    header = client.get(f"/api/workflow/{workflow_id}", params={"includeTasks": "false"})
    assert header.status_code == 200
    assert header.json()["tasks"] == []
    assert header.json()["status"] == "RUNNING"
    assert header.json()["workflowType"] == "large_header"


def test_tasks_are_read_in_pages_with_a_summary(client: httpx.Client) -> None:
    workflow_id = start_fan_out(client, "large_pages", 1200, "large_pages_work")
    for task in poll(client, "large_pages_work", count=7):
        assert complete(client, task).status_code == 200
    whole = client.get(f"/api/workflow/{workflow_id}").json()["tasks"]
    assert len(whole) == 1202

    paged: list[dict[str, Any]] = []
    while len(paged) < len(whole):
        page = client.get(f"/api/workflow/{workflow_id}/tasks", params={"start": len(paged), "count": 500})
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["totalHits"] == 1202
        assert body["results"], f"an empty page at {len(paged)}"
        paged.extend(body["results"])
    assert paged == whole
    assert body["summary"] == {"COMPLETED": 8, "SCHEDULED": 1193, "IN_PROGRESS": 1}

    default = client.get(f"/api/workflow/{workflow_id}/tasks").json()
    assert [t["taskId"] for t in default["results"]] == [t["taskId"] for t in whole[:15]]

    done = client.get(f"/api/workflow/{workflow_id}/tasks", params={"status": "COMPLETED", "count": 100}).json()
    assert done["totalHits"] == 8
    assert [t["taskId"] for t in done["results"]] == [t["taskId"] for t in whole if t["status"] == "COMPLETED"]
    assert done["summary"] == body["summary"]

    for params in ({"status": "completed,in_progress"}, [("status", "COMPLETED"), ("status", "IN_PROGRESS")]):
        either = client.get(f"/api/workflow/{workflow_id}/tasks", params=params).json()
        assert either["totalHits"] == 9
        assert {t["status"] for t in either["results"]} == {"COMPLETED", "IN_PROGRESS"}

    beyond = client.get(f"/api/workflow/{workflow_id}/tasks", params={"start": 5000}).json()
    assert beyond["results"] == [] and beyond["totalHits"] == 1202


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "DONE"}, "status"),
        ({"count": "1001"}, "count"),
        ({"count": "-1"}, "count"),
        ({"start": "-3"}, "start"),
        ({"start": "ten"}, "start"),
    ],
)
def test_bad_task_page_parameters_are_refused_by_name(client: httpx.Client, params: dict[str, str], field: str) -> None:
    workflow_id = start_fan_out(client, "large_bad", 2, "large_bad_work")
    response = client.get(f"/api/workflow/{workflow_id}/tasks", params=params)
    assert response.status_code == 400, response.text
    assert [error["path"] for error in response.json()["validationErrors"]] == [field]


def test_tasks_of_no_such_run_are_not_found(client: httpx.Client) -> None:
    response = client.get("/api/workflow/no-such-run/tasks")
    assert response.status_code == 404
    assert "no-such-run" in response.json()["message"]


def test_a_large_run_is_streamed_whole_and_a_small_one_is_not(client: httpx.Client) -> None:
    small_id = start_fan_out(client, "large_small", 3, "large_small_work")
    small = client.get(f"/api/workflow/{small_id}")
    assert small.headers.get("content-length") == str(len(small.content))

    workflow_id = start_fan_out(client, "large_stream", 2500, "large_stream_work")
    with client.stream("GET", f"/api/workflow/{workflow_id}") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("application/json")
        assert "content-length" not in response.headers  # sent in pieces
        body = json.loads(response.read())
    assert body["workflowId"] == workflow_id
    assert body["workflowType"] == "large_stream"
    assert body["status"] == "RUNNING"
    assert [t["seq"] for t in body["tasks"]] == sorted(t["seq"] for t in body["tasks"])
    assert len(body["tasks"]) == 2502
    assert [t["referenceTaskName"] for t in body["tasks"][1:-1]] == [f"b{i}" for i in range(2500)]
    paged = client.get(f"/api/workflow/{workflow_id}/tasks", params={"start": 1000, "count": 1000}).json()
    assert body["tasks"][1000:2000] == paged["results"]


class HealthProbe:
    """``/health`` every 20 ms from a thread of its own, each answer's latency recorded."""

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url
        self.latencies_ms: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> HealthProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        with httpx.Client(base_url=self._base_url, timeout=30.0, verify=SHARED_TLS) as http:
            while not self._stop.wait(0.02):
                began = time.perf_counter()
                assert http.get("/health").status_code == 200
                self.latencies_ms.append((time.perf_counter() - began) * 1000)


@pytest.mark.serial  # bounds /health's latency: beside other tests it would measure them
def test_health_answers_while_a_20000_branch_run_is_read_whole(
    big_body_server: tuple[ServerProcess, httpx.Client],
) -> None:
    process, client = big_body_server
    workflow_id = start_fan_out(client, "large_probe", 20_000, "large_probe_work")
    sizes = []
    with HealthProbe(process.url) as probe:
        for _ in range(3):
            with client.stream("GET", f"/api/workflow/{workflow_id}") as response:
                assert response.status_code == 200
                sizes.append(sum(len(piece) for piece in response.iter_bytes()))
    assert sizes[0] > 20_000 * 500 and len(set(sizes)) == 1
    assert len(probe.latencies_ms) >= 5, "the read was over before the probe could look"
    worst = max(probe.latencies_ms)
    assert worst < HEALTH_BOUND_MS, f"/health took {worst:.0f} ms while the run was read"


def test_a_large_termination_is_seen_whole_or_not_at_all(
    big_body_server: tuple[ServerProcess, httpx.Client],
) -> None:
    """Terminating 10,000 tasks is written a slice a turn on SQLite: no read in between sees half of it."""
    _, client = big_body_server
    workflow_id = start_fan_out(client, "large_terminate", 10_000, "large_terminate_work")
    seen: list[dict[str, int]] = []
    stop = threading.Event()

    def read_summaries() -> None:
        with httpx.Client(base_url=client.base_url, headers=ADMIN_HEADERS, timeout=30.0, verify=SHARED_TLS) as reader:
            while not stop.is_set():
                page = reader.get(f"/api/workflow/{workflow_id}/tasks", params={"count": 0})
                assert page.status_code == 200, page.text
                seen.append(page.json()["summary"])

    reader = threading.Thread(target=read_summaries)
    reader.start()
    try:
        time.sleep(0.1)
        assert client.delete(f"/api/workflow/{workflow_id}", params={"reason": "large"}).status_code == 200
        time.sleep(0.1)
    finally:
        stop.set()
        reader.join()
    before = {"COMPLETED": 1, "SCHEDULED": 10_000, "IN_PROGRESS": 1}  # the fork, its branches, the join
    after = {"COMPLETED": 1, "CANCELED": 10_001}
    assert seen[0] == before and seen[-1] == after
    assert all(summary in (before, after) for summary in seen), [s for s in seen if s not in (before, after)]
