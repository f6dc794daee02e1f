"""WorkerRunner against a real ``baton serve``: runs complete, failures, parallelism, a server restart."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from baton.model import Task, TaskStatus, WorkflowStatus
from baton.sdk import BatonClient, InProgress, TerminalError, WorkerRegistry, WorkerRunner, worker_task
from tests.helpers import ADMIN_HEADERS, chain, quick_task_def, unique, wait_until_ended_as

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def baton(server: Any) -> Iterator[BatonClient]:
    with BatonClient(server.url, timeout=30, headers=ADMIN_HEADERS) as client:
        yield client


def test_decorated_workers_complete_a_three_step_workflow(baton: BatonClient) -> None:
    registry = WorkerRegistry()
    add_type, double_type = unique("add_one"), unique("double")

    @worker_task(add_type, poll_interval_ms=10, registry=registry)
    def add_one(x: int) -> dict[str, int]:
        return {"x": x + 1}

    @worker_task(double_type, poll_interval_ms=10, registry=registry)
    def double(task: Task) -> dict[str, int]:
        return {"x": task.input_data["x"] * 2, "ref": task.reference_task_name}  # type: ignore[dict-item]

    name = unique("three_steps")
    baton.register_workflow(chain(name, [add_type, double_type, add_type]))
    workflow_id = baton.start_workflow(name, {"x": 3})
    with WorkerRunner(baton, list(registry), concurrency=2, worker_id="sdk-test", poll_timeout_ms=500):
        run = wait_until_ended_as(baton, workflow_id, WorkflowStatus.COMPLETED)
    assert run.output == {"x": 9}
    assert [(t.reference_task_name, t.status) for t in run.tasks] == [
        ("s0", TaskStatus.COMPLETED),
        ("s1", TaskStatus.COMPLETED),
        ("s2", TaskStatus.COMPLETED),
    ]
    assert run.tasks[1].output_data == {"x": 8, "ref": "s1"}
    assert {t.worker_id for t in run.tasks} == {"sdk-test"}


def test_runner_from_url_and_many_runs(server: Any, baton: BatonClient) -> None:
    task_type = unique("bulk")
    name = unique("bulk_flow")
    baton.register_workflow(chain(name, [task_type, task_type]))
    ids = [baton.start_workflow(name, {"x": i}) for i in range(12)]
    registry = WorkerRegistry()
    worker_task(task_type, poll_interval_ms=10, registry=registry)(lambda x: {"x": x + 100})
    with WorkerRunner(server.url, list(registry), concurrency=4, poll_timeout_ms=500):
        runs = [wait_until_ended_as(baton, i, WorkflowStatus.COMPLETED) for i in ids]
    assert [r.output["x"] for r in runs] == [i + 200 for i in range(12)]


def test_raising_function_fails_the_task_with_its_text_and_is_retried(baton: BatonClient) -> None:
    task_type, name = unique("flaky"), unique("flaky_flow")
    baton.register_task_defs([quick_task_def(task_type, retry_count=1)])
    baton.register_workflow(chain(name, [task_type]))
    calls: list[int] = []
    registry = WorkerRegistry()

    @worker_task(task_type, poll_interval_ms=10, registry=registry)
    def flaky(x: int) -> dict[str, int]:
        calls.append(x)
        raise RuntimeError(f"disk full on attempt {len(calls)}")

    workflow_id = baton.start_workflow(name, {"x": 1})
    with WorkerRunner(baton, list(registry), poll_timeout_ms=500):
        run = wait_until_ended_as(baton, workflow_id, WorkflowStatus.FAILED)
    assert len(calls) == 2, "retryCount=1 means one retry"
    assert [t.status for t in run.tasks] == [TaskStatus.FAILED, TaskStatus.FAILED]
    assert [t.reason_for_incompletion for t in run.tasks] == [
        "disk full on attempt 1",
        "disk full on attempt 2",
    ]
    assert "disk full on attempt 2" in (run.reason_for_incompletion or "")


def test_terminal_error_is_not_retried(baton: BatonClient) -> None:
    task_type, name = unique("fatal"), unique("fatal_flow")
    baton.register_task_defs([quick_task_def(task_type, retry_count=3)])
    baton.register_workflow(chain(name, [task_type]))
    calls: list[int] = []
    registry = WorkerRegistry()

    @worker_task(task_type, poll_interval_ms=10, registry=registry)
    def fatal(x: int) -> dict[str, int]:
        calls.append(x)
        raise TerminalError("card declined")

    workflow_id = baton.start_workflow(name, {"x": 1})
    with WorkerRunner(baton, list(registry), poll_timeout_ms=500):
        run = wait_until_ended_as(baton, workflow_id, WorkflowStatus.FAILED)
        time.sleep(0.5)  # a retry, were there one, would be handed out by now
    assert calls == [1]
    (task,) = run.tasks
    assert task.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert task.reason_for_incompletion == "card declined"


def test_concurrency_runs_tasks_in_parallel(baton: BatonClient) -> None:
    task_type, name = unique("meet"), unique("meet_flow")
    baton.register_task_defs([quick_task_def(task_type)])
    baton.register_workflow(chain(name, [task_type]))
    barrier = threading.Barrier(2)
    registry = WorkerRegistry()

    @worker_task(task_type, poll_interval_ms=10, registry=registry)
    def meet(x: int) -> dict[str, int]:
        # Each task waits for the other: only two at once can pass.
        barrier.wait(timeout=15)
        return {"x": x}

    ids = [baton.start_workflow(name, {"x": i}) for i in range(2)]
    with WorkerRunner(baton, list(registry), concurrency=2, poll_timeout_ms=500):
        runs = [wait_until_ended_as(baton, i, WorkflowStatus.COMPLETED) for i in ids]
    assert sorted(r.output["x"] for r in runs) == [0, 1]


def test_concurrency_one_runs_one_at_a_time(baton: BatonClient) -> None:
    task_type, name = unique("solo"), unique("solo_flow")
    baton.register_workflow(chain(name, [task_type]))
    running = 0
    most = 0
    lock = threading.Lock()
    registry = WorkerRegistry()

    @worker_task(task_type, poll_interval_ms=10, registry=registry)
    def solo(x: int) -> dict[str, int]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return {"x": x}

    ids = [baton.start_workflow(name, {"x": i}) for i in range(4)]
    with WorkerRunner(baton, list(registry), concurrency=1, poll_timeout_ms=500):
        for i in ids:
            wait_until_ended_as(baton, i, WorkflowStatus.COMPLETED)
    assert most == 1


@pytest.mark.own_server
def test_result_survives_a_server_restart(server: Any, baton: BatonClient) -> None:
    """The server dies while a task runs; the runner keeps the result and reports it once the server is back."""
    task_type, name = unique("outlast"), unique("outlast_flow")
    baton.register_task_defs([quick_task_def(task_type)])
    baton.register_workflow(chain(name, [task_type]))
    started = threading.Event()
    release = threading.Event()
    calls: list[int] = []
    registry = WorkerRegistry()

    @worker_task(task_type, poll_interval_ms=10, registry=registry)
    def outlast(x: int) -> dict[str, int]:
        calls.append(x)
        started.set()
        release.wait(30)
        return {"x": x + 1}

    workflow_id = baton.start_workflow(name, {"x": 41})
    runner = WorkerRunner(server.url, list(registry), poll_timeout_ms=300, retry_max_delay=0.5).start()
    try:
        assert started.wait(20)
        server.kill()
        release.set()
        time.sleep(1.5)  # the runner is now retrying against a dead port
        server.start()
        run = wait_until_ended_as(baton, workflow_id, WorkflowStatus.COMPLETED, timeout=40)
    finally:
        runner.stop()
        runner.join(30)
    assert run.output == {"x": 42}
    # One call, one attempt: the result was delivered late, not redone after a lease ran out.
    assert calls == [41]
    (task,) = run.tasks
    assert task.status is TaskStatus.COMPLETED


def test_in_progress_comes_back_after_the_callback(baton: BatonClient) -> None:
    task_type, name = unique("patient"), unique("patient_flow")
    baton.register_workflow(chain(name, [task_type]))
    seen: list[int] = []
    registry = WorkerRegistry()

    @worker_task(task_type, poll_interval_ms=10, registry=registry)
    def patient(task: Task) -> Any:
        seen.append(task.poll_count)
        if len(seen) == 1:
            return InProgress(callback_after_seconds=1, output={"stage": "waiting"})
        return {"x": task.input_data["x"], "stage": "done"}

    workflow_id = baton.start_workflow(name, {"x": 5})
    began = time.monotonic()
    with WorkerRunner(baton, list(registry), poll_timeout_ms=300):
        run = wait_until_ended_as(baton, workflow_id, WorkflowStatus.COMPLETED)
    assert len(seen) == 2
    assert time.monotonic() - began >= 0.9, "handed out again before callbackAfterSeconds"
    (task,) = run.tasks
    assert task.output_data == {"x": 5, "stage": "done"}
