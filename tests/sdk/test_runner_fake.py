"""WorkerRunner against a scripted fake server: reporting retries, next-task hand-back, stopping.

The fake lets these tests break the connection at exact moments, which a real
server cannot do on cue; ``test_runner_server.py`` covers the real thing.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from baton.sdk import BatonClient, Worker, WorkerRunner

pytestmark = pytest.mark.timeout(30)


def task_json(task_id: str, task_type: str = "work", **input_data: Any) -> dict[str, Any]:
    return {
        "taskId": task_id,
        "taskType": task_type,
        "referenceTaskName": f"ref_{task_id}",
        "workflowInstanceId": f"wf_{task_id}",
        "workflowType": "flow",
        "status": "IN_PROGRESS",
        "inputData": input_data,
    }


class FakeServer:
    """Hands out queued tasks; records results; can refuse or drop the next N result reports."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.queue: deque[dict[str, Any]] = deque()
        self.results: list[dict[str, Any]] = []
        self.result_routes: list[str] = []
        self.polls: list[int] = []
        self.drop_reports = 0
        self.refuse_with: int | None = None
        self.report_attempts = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/api/tasks/poll/batch/"):
            count = int(request.url.params["count"])
            deadline = time.monotonic() + int(request.url.params["timeout"]) / 1000
            while True:
                with self.lock:
                    if self.queue:
                        handed = [self.queue.popleft() for _ in range(min(count, len(self.queue)))]
                        self.polls.append(len(handed))
                        return httpx.Response(200, json=handed)
                if time.monotonic() >= deadline:
                    return httpx.Response(200, json=[])
                time.sleep(0.01)
        if path in ("/api/tasks/update-v2", "/api/tasks"):
            with self.lock:
                self.report_attempts += 1
                if self.drop_reports > 0:
                    self.drop_reports -= 1
                    raise httpx.ConnectError("connection refused", request=request)
                if self.refuse_with is not None:
                    return httpx.Response(self.refuse_with, json={"status": self.refuse_with, "message": "refused"})
                body = json.loads(request.content)
                self.results.append(body)
                self.result_routes.append(path)
                if path == "/api/tasks":
                    return httpx.Response(200, text=body["taskId"])
                if self.queue:
                    return httpx.Response(200, json=self.queue.popleft())
                return httpx.Response(204)
        return httpx.Response(404, json={"status": 404, "message": f"no route {path}"})


def runner_for(fake: FakeServer, func: Callable[..., Any], *, concurrency: int = 1, **kwargs: Any) -> WorkerRunner:
    client = BatonClient("http://fake", transport=httpx.MockTransport(fake.handle))
    worker = Worker(task_type="work", func=func, poll_interval_ms=5)
    return WorkerRunner(
        client,
        [worker],
        concurrency=concurrency,
        worker_id="w-test",
        poll_timeout_ms=50,
        retry_max_delay=0.05,
        **kwargs,
    )


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.01)


def test_result_is_retried_until_the_server_takes_it() -> None:
    fake = FakeServer()
    fake.queue.append(task_json("t1", n=1))
    fake.drop_reports = 4
    with runner_for(fake, lambda n: {"n": n + 1}):
        wait_for(lambda: len(fake.results) == 1)
    assert fake.report_attempts == 5
    # Retries claim nothing new: a lost answer to update-v2 may have carried a task.
    assert fake.result_routes == ["/api/tasks"]
    assert fake.results[0]["taskId"] == "t1"
    assert fake.results[0]["outputData"] == {"n": 2}
    assert fake.results[0]["workerId"] == "w-test"


def test_refused_result_is_dropped_not_retried() -> None:
    fake = FakeServer()
    fake.queue.append(task_json("t1"))
    fake.refuse_with = 409
    with runner_for(fake, lambda: {}):
        wait_for(lambda: fake.report_attempts >= 1)
        time.sleep(0.2)
    assert fake.report_attempts == 1


def test_next_task_from_update_v2_runs_without_another_poll() -> None:
    fake = FakeServer()
    fake.queue.extend([task_json("t1", n=1), task_json("t2", n=2), task_json("t3", n=3)])
    seen: list[int] = []

    def fn(n: int) -> dict[str, int]:
        seen.append(n)
        return {"n": n}

    # One poll hands out t1 only (count = 1 free slot); t2 and t3 come back from update-v2.
    with runner_for(fake, fn):
        wait_for(lambda: len(fake.results) == 3)
    assert seen == [1, 2, 3]
    assert fake.polls == [1]
    assert fake.result_routes == ["/api/tasks/update-v2"] * 3


def test_poll_asks_for_as_many_tasks_as_free_slots() -> None:
    fake = FakeServer()
    fake.queue.extend(task_json(f"t{i}") for i in range(3))
    with runner_for(fake, lambda: {}, concurrency=4):
        wait_for(lambda: len(fake.results) == 3)
    assert fake.polls == [3]


def test_stop_lets_the_task_in_hand_finish_and_report_without_claiming_more() -> None:
    fake = FakeServer()
    fake.queue.append(task_json("t1"))
    started = threading.Event()
    release = threading.Event()

    def slow() -> dict[str, str]:
        started.set()
        release.wait(10)
        return {"done": "yes"}

    runner = runner_for(fake, slow).start()
    assert started.wait(10)
    fake.queue.append(task_json("t2"))
    runner.stop()
    release.set()
    assert runner.join(10)
    assert [r["taskId"] for r in fake.results] == ["t1"]
    assert fake.result_routes == ["/api/tasks"]
    assert [t["taskId"] for t in fake.queue] == ["t2"]


def test_unreported_result_is_abandoned_after_the_drain_timeout() -> None:
    fake = FakeServer()
    fake.queue.append(task_json("t1"))
    fake.drop_reports = 10_000
    runner = runner_for(fake, lambda: {}, drain_timeout=0.3).start()
    wait_for(lambda: fake.report_attempts >= 1)
    runner.stop()
    assert runner.join(10)
    assert fake.results == []


def test_runner_refuses_two_workers_for_one_type_and_no_workers() -> None:
    client = BatonClient("http://fake", transport=httpx.MockTransport(FakeServer().handle))
    same = [Worker(task_type="a", func=dict), Worker(task_type="a", func=dict)]
    with pytest.raises(ValueError, match="more than one worker"):
        WorkerRunner(client, same)
    with pytest.raises(ValueError, match="no workers"):
        WorkerRunner(client, [])
    with pytest.raises(ValueError, match="concurrency"):
        WorkerRunner(client, same[:1], concurrency=0)
