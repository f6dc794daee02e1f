"""Driving a server over raw HTTP: definitions, registration, in-process workers, status checks, percentiles."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import msgspec
from harness import ADMIN_HEADERS, BenchError
from rawhttp import HttpClient

JSON_HEADERS = {"content-type": "application/json"}
_encode = msgspec.json.encode
_decode = msgspec.json.decode


def sequence_workflow(name: str, task_types: list[str]) -> dict[str, Any]:
    """A sequence of SIMPLE steps; each step's input carries the run's input and the previous step's output."""
    tasks = []
    previous = "${workflow.input.n}"
    for index, task_type in enumerate(task_types):
        ref = f"s{index}"
        tasks.append(
            {
                "name": task_type,
                "taskReferenceName": ref,
                "type": "SIMPLE",
                "inputParameters": {"n": previous, "i": index},
            }
        )
        previous = f"${{{ref}.output.n}}"
    return {
        "name": name,
        "version": 1,
        "schemaVersion": 2,
        "tasks": tasks,
        "outputParameters": {"n": previous},
        "ownerEmail": "bench@example.com",
    }


async def register(client: HttpClient, definition: dict[str, Any]) -> None:
    response = await client.post(
        "/api/metadata/workflow", content=_encode(definition), headers=JSON_HEADERS, params={"overwrite": "true"}
    )
    if response.status_code not in (200, 204):
        raise BenchError(
            f"POST /api/metadata/workflow ({definition['name']}): expected 200, got {response.status_code}: "
            f"{response.text[:500]}"
        )


@dataclass
class WorkerPool:
    """Coroutines that long-poll a task type in batches and report with update-v2, which hands back the next task.

    Each coroutine keeps the tasks it was given in a local queue and works them one at a time; the work
    itself is trivial (``n + 1``) so the figures measure the server, not the worker.
    """

    client: HttpClient
    batch: int = 10
    poll_timeout_ms: int = 1000
    on_completed: Callable[[str, dict[str, Any]], None] | None = None
    completed: dict[str, int] = field(default_factory=dict)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stopping: bool = False

    def start(self, task_type: str, coroutines: int) -> None:
        self.completed.setdefault(task_type, 0)
        for index in range(coroutines):
            worker_id = f"bench-{task_type}-{index}"
            self.tasks.append(asyncio.create_task(self._work(task_type, worker_id), name=worker_id))

    async def _work(self, task_type: str, worker_id: str) -> None:
        client = self.client
        poll_path = (
            f"/api/tasks/poll/batch/{task_type}?workerid={worker_id}&count={self.batch}&timeout={self.poll_timeout_ms}"
        )
        poll_timeout = self.poll_timeout_ms / 1000 + 30
        queue: deque[dict[str, Any]] = deque()
        while not self.stopping:
            if not queue:
                response = await client.get(poll_path, timeout=poll_timeout)
                if response.status_code == 204:
                    continue
                if response.status_code != 200:
                    raise BenchError(
                        f"GET {poll_path}: expected 200, got {response.status_code}: {response.text[:500]}"
                    )
                queue.extend(_decode(response.content))
                continue
            task = queue.popleft()
            n = task.get("inputData", {}).get("n")
            result = {
                "taskId": task["taskId"],
                "workflowInstanceId": task["workflowInstanceId"],
                "status": "COMPLETED",
                "outputData": {"n": (n + 1) if isinstance(n, int) else 1},
                "workerId": worker_id,
            }
            response = await client.post("/api/tasks/update-v2", content=_encode(result), headers=JSON_HEADERS)
            if response.status_code == 200:
                body = response.content
                if body and body != b"null":
                    queue.append(_decode(body))
            elif response.status_code != 204:
                raise BenchError(
                    f"POST /api/tasks/update-v2 (task {task['taskId']}): expected 200 or 204, "
                    f"got {response.status_code}: {response.text[:500]}"
                )
            self.completed[task_type] += 1
            if self.on_completed is not None:
                self.on_completed(task_type, task)

    async def stop(self) -> None:
        """Let each coroutine finish the request it is in (a long poll ends by its timeout), then cancel the rest.

        Cancelling a long poll would leave it running in the server, which would keep holding a task it
        claimed for a client that is gone, and delay the server's shutdown.
        """
        self.stopping = True
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=self.poll_timeout_ms / 1000 + 5)
        for task in self.tasks:
            task.cancel()
        results = await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks.clear()
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                raise result


async def wait_for(event: asyncio.Event, watched: list[asyncio.Task[Any]], timeout: float, what: str) -> None:
    """Wait for ``event``; raise at once if a watched task fails, or after ``timeout`` seconds."""
    waiter = asyncio.create_task(event.wait())
    watching = set(watched)
    try:
        deadline = time.monotonic() + timeout
        while not event.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"timed out after {timeout:.0f}s waiting for {what}")
            done, _ = await asyncio.wait([waiter, *watching], timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            for task in done - {waiter}:
                watching.discard(task)
                failure = None if task.cancelled() else task.exception()
                if failure is not None:
                    raise failure
    finally:
        waiter.cancel()


async def run_status(client: HttpClient, workflow_id: str) -> str:
    response = await client.get(f"/api/workflow/{workflow_id}/status")
    if response.status_code != 200:
        raise BenchError(
            f"GET /api/workflow/{workflow_id}/status: expected 200, got {response.status_code}: {response.text[:500]}"
        )
    status: str = _decode(response.content)["status"]
    return status


async def confirm_completed(client: HttpClient, ids: list[str], timeout: float) -> int:
    """Every id in ``ids`` reads COMPLETED (re-reading the ones still running, up to ``timeout``).

    Returns how many rounds of reads it took: 1 when all had already ended.
    """
    deadline = time.monotonic() + timeout
    pending = list(ids)
    rounds = 0
    while pending:
        rounds += 1
        statuses = await asyncio.gather(*(run_status(client, i) for i in pending))
        failed = [(i, s) for i, s in zip(pending, statuses, strict=True) if s not in ("RUNNING", "COMPLETED")]
        if failed:
            raise BenchError(f"runs ended other than COMPLETED: {failed[:5]}")
        pending = [i for i, s in zip(pending, statuses, strict=True) if s != "COMPLETED"]
        if pending:
            if time.monotonic() > deadline:
                raise BenchError(f"{len(pending)} runs still not COMPLETED after {timeout:.0f}s: {pending[:5]}")
            await asyncio.sleep(0.005)
    return rounds


def new_client(base_url: str) -> HttpClient:
    return HttpClient(base_url, timeout=30.0, headers=ADMIN_HEADERS)


async def verify_all(client: HttpClient, ids: list[str]) -> int:
    """Untimed: read every run's status; all must be COMPLETED."""
    semaphore = asyncio.Semaphore(16)

    async def one(workflow_id: str) -> str:
        async with semaphore:
            return await run_status(client, workflow_id)

    statuses = await asyncio.gather(*(one(i) for i in ids))
    bad = [(i, s) for i, s in zip(ids, statuses, strict=True) if s != "COMPLETED"]
    if bad:
        raise BenchError(f"{len(bad)} of {len(ids)} runs are not COMPLETED: {bad[:5]}")
    return len(ids)


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, min(len(sorted_values), round(pct / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def latency_figures(ms: list[float]) -> dict[str, Any]:
    return {
        "executes": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2),
        "mean_ms": round(sum(ms) / len(ms), 2),
        "min_ms": round(ms[0], 2),
    }
