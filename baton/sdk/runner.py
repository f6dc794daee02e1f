"""``WorkerRunner``: polls for worker tasks, runs them on a thread pool, reports their results.

One poller thread per task type long-polls ``/api/tasks/poll/batch`` for as
many tasks as that type has free slots, and hands each task to the pool. A
finished task is reported with ``POST /api/tasks/update-v2``, whose answer is
the next task of that type for this worker, run at once in the same slot
without another poll.

A result is never dropped because the server is away: reporting is retried on
connection errors and 502/503/504 with capped backoff until it is accepted.
Only a refusal (4xx: the task is unknown, or its lease ran out and it was
handed to another worker) drops it.

``stop()`` (or SIGINT/SIGTERM under ``run_forever``) stops polling, lets the
tasks in hand finish and report with ``POST /api/tasks`` (which claims
nothing new), then returns. Results still unreported after ``drain_timeout``
are abandoned, as is everything at a second SIGINT.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from types import FrameType, TracebackType
from typing import Any, Self

from baton.model import Task, TaskResult, TaskResultStatus
from baton.sdk.client import BatonApiError, BatonClient, BatonConnectionError
from baton.sdk.worker import Worker, default_registry

__all__ = ["WorkerRunner", "default_worker_id"]

log = logging.getLogger("baton.sdk.runner")

_RETRY_STATUS = frozenset({429, 502, 503, 504})
"""Answers that mean "not now": the request is retried until it goes through."""

_LIMITED_RETRY_STATUS = frozenset({500})
"""Answers retried a few times only, since a server bug would fail the same way forever."""

_LIMITED_RETRIES = 5

_FAILURES = frozenset({TaskResultStatus.FAILED, TaskResultStatus.FAILED_WITH_TERMINAL_ERROR})
"""Results logged at WARNING: a quiet worker still says what went wrong."""


def default_worker_id() -> str:
    """This process's worker id: the host name and the process id."""
    return f"{socket.gethostname()}-{os.getpid()}"


class _Backoff:
    """Doubling delays with jitter, from ``first`` up to ``cap`` seconds."""

    def __init__(self, first: float = 0.1, cap: float = 5.0) -> None:
        self.first = first
        self.cap = cap
        self.attempt = 0

    def next(self) -> float:
        delay: float = min(self.cap, self.first * 2.0**self.attempt)
        self.attempt += 1
        return delay * random.uniform(0.75, 1.0)

    def reset(self) -> None:
        self.attempt = 0


class _Lane:
    """One task type: its worker and its slots. Only the lane's poller adds tasks; runs remove them."""

    def __init__(self, worker: Worker, capacity: int) -> None:
        self.worker = worker
        self.capacity = capacity
        self.in_flight = 0
        self.cond = threading.Condition()

    def wait_free(self, stop: threading.Event) -> int:
        with self.cond:
            while self.in_flight >= self.capacity and not stop.is_set():
                self.cond.wait(0.25)
            return max(0, self.capacity - self.in_flight)

    def add(self, count: int) -> None:
        with self.cond:
            self.in_flight += count

    def done(self) -> None:
        with self.cond:
            self.in_flight -= 1
            self.cond.notify_all()

    def idle(self) -> bool:
        with self.cond:
            return self.in_flight == 0


class WorkerRunner:
    """Runs workers against a server until stopped.

    ``client`` is a ``BatonClient`` or the server's URL (the runner then makes
    and closes its own client). ``workers`` defaults to every ``@worker_task``
    function imported so far. ``concurrency`` is how many tasks of each type run
    at once (a worker's own ``concurrency`` overrides it); ``poll_timeout_ms`` is
    how long one poll waits on the server for work.
    """

    def __init__(
        self,
        client: BatonClient | str,
        workers: Iterable[Worker] | None = None,
        *,
        concurrency: int = 1,
        worker_id: str | None = None,
        poll_timeout_ms: int = 1000,
        drain_timeout: float = 30.0,
        retry_max_delay: float = 5.0,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self._owns_client = isinstance(client, str)
        self.client = BatonClient(client) if isinstance(client, str) else client
        chosen = list(workers) if workers is not None else list(default_registry)
        if not chosen:
            raise ValueError("no workers to run")
        types = [w.task_type for w in chosen]
        if len(set(types)) != len(types):
            raise ValueError(f"more than one worker for a task type: {sorted(types)}")
        self.workers = chosen
        self.concurrency = concurrency
        self.worker_id = worker_id or default_worker_id()
        self.poll_timeout_ms = poll_timeout_ms
        self.drain_timeout = drain_timeout
        self.retry_max_delay = retry_max_delay
        self._lanes = [_Lane(w, w.concurrency or concurrency) for w in chosen]
        self._stop = threading.Event()
        self._abandon = threading.Event()
        self._finished = threading.Event()
        self._started = False
        self._start_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def stop(self) -> None:
        """Ask the runner to stop: no new polls; tasks in hand finish and report. Returns at once."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run_forever(self, *, install_signal_handlers: bool = True) -> None:
        """Poll and run tasks until ``stop()`` (or SIGINT/SIGTERM), then drain and return."""
        with self._start_lock:
            if self._started:
                raise RuntimeError("a WorkerRunner runs once")
            self._started = True
        restore = self._install_signal_handlers() if install_signal_handlers else {}
        executor = ThreadPoolExecutor(
            max_workers=sum(lane.capacity for lane in self._lanes), thread_name_prefix="baton-task"
        )
        pollers = [
            threading.Thread(
                target=self._poll_loop,
                args=(lane, executor),
                name=f"baton-poll-{lane.worker.task_type}",
                daemon=True,
            )
            for lane in self._lanes
        ]
        log.info(
            "worker %s polling %s at %s",
            self.worker_id,
            ", ".join(f"{lane.worker.task_type} (x{lane.capacity})" for lane in self._lanes),
            self.client.base_url,
        )
        try:
            for thread in pollers:
                thread.start()
            # Short waits keep the main thread responsive to signals.
            while not self._stop.wait(0.2):
                pass
        finally:
            self._stop.set()
            for thread in pollers:
                thread.join()
            self._drain()
            executor.shutdown(wait=not self._abandon.is_set(), cancel_futures=True)
            for signum, handler in restore.items():
                signal.signal(signum, handler)
            if self._owns_client:
                self.client.close()
            self._finished.set()
            log.info("worker %s stopped", self.worker_id)

    def start(self) -> Self:
        """Run in a background thread; returns at once. Pair with ``stop()`` and ``join()``."""
        self._thread = threading.Thread(
            target=self.run_forever,
            kwargs={"install_signal_handlers": False},
            name="baton-worker-runner",
            daemon=True,
        )
        self._thread.start()
        return self

    def join(self, timeout: float | None = None) -> bool:
        """Wait for a started runner to finish; True if it did."""
        return self._finished.wait(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        self.join()

    def _install_signal_handlers(self) -> dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}

        def handle(signum: int, frame: FrameType | None) -> None:
            if self._stop.is_set():
                log.warning("second signal: abandoning unreported results")
                self._abandon.set()
            else:
                log.info("signal %s: stopping after the tasks in hand", signum)
            self._stop.set()

        previous: dict[int, Any] = {}
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.getsignal(signum)
            signal.signal(signum, handle)
        return previous

    def _drain(self) -> None:
        if all(lane.idle() for lane in self._lanes):
            return
        log.info("waiting up to %ss for tasks in hand", self.drain_timeout)
        deadline = threading.Event()
        timer = threading.Timer(self.drain_timeout, deadline.set)
        timer.daemon = True
        timer.start()
        try:
            while not all(lane.idle() for lane in self._lanes):
                if deadline.wait(0.05) or self._abandon.is_set():
                    log.warning("tasks still running after %ss; abandoning them", self.drain_timeout)
                    self._abandon.set()
                    return
        finally:
            timer.cancel()

    # --- polling and running -------------------------------------------------------------

    def _poll_loop(self, lane: _Lane, executor: ThreadPoolExecutor) -> None:
        worker = lane.worker
        backoff = _Backoff(cap=self.retry_max_delay)
        while not self._stop.is_set():
            free = lane.wait_free(self._stop)
            if self._stop.is_set():
                break
            try:
                tasks = self.client.poll(
                    worker.task_type,
                    self.worker_id,
                    count=free,
                    timeout_ms=self.poll_timeout_ms,
                    domain=worker.domain,
                )
            except (BatonConnectionError, BatonApiError) as exc:
                delay = backoff.next()
                log.warning("poll for %s failed (%s); retrying in %.1fs", worker.task_type, exc, delay)
                self._stop.wait(delay)
                continue
            except Exception:
                log.exception("poll for %s failed", worker.task_type)
                self._stop.wait(backoff.next())
                continue
            backoff.reset()
            # Every claimed task runs, even one that came back as we were told to stop:
            # dropping it would leave it leased to us until its lease runs out.
            lane.add(len(tasks))
            for task in tasks:
                executor.submit(self._run, lane, task)
            if not tasks and worker.poll_interval_ms > 0:
                self._stop.wait(worker.poll_interval_ms / 1000)

    def _run(self, lane: _Lane, task: Task) -> None:
        """Run a task, report it, and run whatever task the report hands back, in this slot."""
        current: Task | None = task
        try:
            while current is not None:
                result = lane.worker.execute(current, worker_id=self.worker_id)
                if result.status in _FAILURES:
                    log.warning(
                        "task %s (%s) of workflow %s failed: %s",
                        current.task_id,
                        lane.worker.task_type,
                        current.workflow_instance_id,
                        result.reason_for_incompletion,
                    )
                current = self._report(result)
        except Exception:
            log.exception("running task %s failed", current.task_id if current else "?")
        finally:
            lane.done()

    def _report(self, result: TaskResult) -> Task | None:
        """Send a result until the server takes or refuses it; returns the next task it hands back.

        Only the first attempt asks for a next task (update-v2): a retry may follow a
        request that was applied but whose answer was lost, and a task claimed by
        that lost answer would sit leased to us until its lease ran out.
        """
        backoff = _Backoff(cap=self.retry_max_delay)
        limited = 0
        first = True
        while True:
            try:
                if self._stop.is_set() or not first:
                    self.client.update_task(result)
                    return None
                return self.client.update_task_v2(result)
            except BatonConnectionError as exc:
                reason = str(exc)
            except BatonApiError as exc:
                if exc.status_code in _LIMITED_RETRY_STATUS and limited < _LIMITED_RETRIES:
                    limited += 1
                elif exc.status_code not in _RETRY_STATUS:
                    log.warning(
                        "server refused the result of task %s (%s): %s",
                        result.task_id,
                        result.status.value,
                        exc,
                    )
                    return None
                reason = str(exc)
            first = False
            if self._abandon.is_set():
                log.error("result of task %s lost: %s", result.task_id, reason)
                return None
            delay = backoff.next()
            log.warning("reporting task %s failed (%s); retrying in %.1fs", result.task_id, reason, delay)
            self._abandon.wait(delay)
