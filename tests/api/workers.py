"""A plain-HTTP worker for tests that kill the server: it keeps polling, and retries a result until it is taken."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

Output = Callable[[dict[str, Any]], dict[str, Any]]
"""From a polled task (Conductor's JSON) to the output the worker reports."""


class ResilientWorker:
    """Polls task types over HTTP and completes what it gets; survives the server dying and coming back.

    ``acknowledged`` maps each task id whose result the server answered 200 to
    the output sent: what the server must keep, whatever happens to it later.
    A 404 or 409 (the task was retried or cancelled meanwhile) drops the result.
    """

    def __init__(self, url: str, output: Output, *, worker_id: str = "resilient-worker") -> None:
        self.url = url
        self.output = output
        self.worker_id = worker_id
        self.stop = threading.Event()
        self.acknowledged: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self, task_types: list[str], threads_per_type: int = 2) -> None:
        for task_type in task_types:
            for _ in range(threads_per_type):
                thread = threading.Thread(target=self.run, args=(task_type,), daemon=True)
                thread.start()
                self._threads.append(thread)

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def run(self, task_type: str) -> None:
        with httpx.Client(base_url=self.url, timeout=5) as http:
            while not self.stop.is_set():
                try:
                    response = http.get(
                        f"/api/tasks/poll/batch/{task_type}",
                        params={"workerid": self.worker_id, "count": 10, "timeout": 500},
                    )
                except httpx.TransportError:
                    time.sleep(0.1)
                    continue
                if response.status_code != 200:
                    time.sleep(0.1)
                    continue
                for task in response.json():
                    self._report(http, task)

    def _report(self, http: httpx.Client, task: dict[str, Any]) -> None:
        output = self.output(task)
        result = {
            "taskId": task["taskId"],
            "workflowInstanceId": task["workflowInstanceId"],
            "status": "COMPLETED",
            "outputData": output,
            "workerId": self.worker_id,
        }
        while not self.stop.is_set():
            try:
                response = http.post("/api/tasks", json=result)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            if response.status_code == 200:
                with self.lock:
                    self.acknowledged[task["taskId"]] = output
                return
            if response.status_code in (404, 409):
                return
            time.sleep(0.1)
