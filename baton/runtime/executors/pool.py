"""One claim loop per server-run task type, sharing one bound on the tasks in flight."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable

from baton.model import Task, TaskType
from baton.runtime.executors.event import run_event
from baton.runtime.executors.http import run_http
from baton.runtime.executors.reporting import Reporter
from baton.runtime.executors.workflows import run_start_workflow, run_sub_workflow
from baton.runtime.outbound import guarded_client
from baton.service import Baton, SecretUnavailable
from baton.service.wakeups import task_key

log = logging.getLogger(__name__)

TaskRunner = Callable[[Task], Awaitable[None]]

_RECHECK_SECONDS = 0.5
"""A loop looks at the queue at least this often: delayed tasks become visible without a wake-up."""
_MAX_CLAIM = 16


class Slots:
    """How many more tasks this process may run at once."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._released = asyncio.Event()

    async def take(self, most: int) -> int:
        """Wait for at least one free slot; take up to ``most``."""
        while self._free == 0:
            self._released.clear()
            await self._released.wait()
        taken = min(most, self._free)
        self._free -= taken
        return taken

    def give(self, count: int = 1) -> None:
        self._free += count
        self._released.set()


class Executors:
    def __init__(self, service: Baton) -> None:
        self._service = service
        settings = service.context.settings
        self._slots = Slots(max(1, settings.executor_concurrency))
        self._worker_id = f"baton-server@{socket.gethostname()}:{os.getpid()}"
        self._http = guarded_client(
            settings, max_connections=max(1, settings.executor_concurrency), follow_redirects=True
        )
        reporter = Reporter(service.tasks, self._worker_id)
        lease_seconds = settings.server_task_lease_seconds
        self._reporter = reporter
        self._runners: dict[str, TaskRunner] = {
            TaskType.HTTP.value: self._with_secrets(
                lambda task, masking: run_http(task, self._http, masking, lease_seconds)
            ),
            TaskType.EVENT.value: self._with_secrets(
                lambda task, masking: run_event(task, self._http, masking, service, lease_seconds)
            ),
            TaskType.SUB_WORKFLOW.value: lambda task: run_sub_workflow(task, reporter, service),
            TaskType.START_WORKFLOW.value: lambda task: run_start_workflow(task, reporter, service),
        }
        self._loops: list[asyncio.Task[None]] = []
        self._running: set[asyncio.Task[None]] = set()

    def _with_secrets(self, runner: Callable[[Task, Reporter], Awaitable[None]]) -> TaskRunner:
        """``runner`` given the task with its secrets' values, and a reporter that masks them; a task whose secrets
        cannot be given fails with the reason (SUB_WORKFLOW and START_WORKFLOW get none: a child's input is
        stored)."""
        service = self._service

        async def run(task: Task) -> None:
            try:
                revealed = await service.secrets.reveal(task)
            except SecretUnavailable as unavailable:
                await service.tasks.fail_unrevealed(task, unavailable)
                return
            await runner(revealed.task, self._reporter.masking(revealed.mask))

        return run

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._loops = [
            loop.create_task(self._claim_forever(task_type, runner), name=f"baton-executor-{task_type}")
            for task_type, runner in self._runners.items()
        ]

    async def stop(self) -> None:
        for task in (*self._loops, *self._running):
            task.cancel()
        for task in (*self._loops, *self._running):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops = []
        await self._http.aclose()

    async def _claim_forever(self, task_type: str, runner: TaskRunner) -> None:
        ctx = self._service.context
        with ctx.notifier.listen(task_key(task_type)) as waiter:
            while True:
                wanted = await self._slots.take(_MAX_CLAIM)
                try:
                    tasks = await ctx.store.claim_tasks(
                        task_type, worker_id=self._worker_id, count=wanted, now=ctx.clock()
                    )
                except Exception:
                    self._slots.give(wanted)
                    log.exception("claiming %s tasks failed; trying again", task_type)
                    await asyncio.sleep(1.0)
                    continue
                self._slots.give(wanted - len(tasks))
                for task in tasks:
                    self._spawn(runner, task)
                if len(tasks) < wanted:
                    await waiter.wait(_RECHECK_SECONDS)

    def _spawn(self, runner: TaskRunner, task: Task) -> None:
        async def run() -> None:
            try:
                await runner(task)
            except asyncio.CancelledError:
                raise
            except Exception:
                # Its lease runs out and it goes back to the queue.
                log.exception("%s task %s failed in the executor", task.task_type, task.task_id)
            finally:
                self._slots.give()

        running = asyncio.get_running_loop().create_task(run())
        self._running.add(running)
        running.add_done_callback(self._running.discard)
