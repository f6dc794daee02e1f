"""BatonClient round trips against a real ``baton serve``: every route the SDK calls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from baton.model import (
    IdempotencyStrategy,
    StartWorkflowRequest,
    TaskResult,
    TaskResultStatus,
    TaskStatus,
    WorkflowDef,
    WorkflowStatus,
    WorkflowTask,
)
from baton.sdk import AsyncBatonClient, BatonApiError, BatonClient, Worker, WorkerRunner
from tests.helpers import ADMIN_HEADERS, chain, quick_task_def, unique, wait_until_ended_as

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def baton(server: Any) -> Iterator[BatonClient]:
    with BatonClient(server.url, timeout=30, headers=ADMIN_HEADERS) as client:
        yield client


def test_health(baton: BatonClient) -> None:
    assert baton.health() is True


def test_workflow_definitions_round_trip(baton: BatonClient) -> None:
    name = unique("defs")
    first = chain(name, ["step_a"], description="first")
    baton.register_workflow(first)
    got = baton.get_workflow_def(name)
    assert (got.name, got.version, got.description) == (name, 1, "first")
    assert got.tasks[0].task_reference_name == "s0"
    assert got.tasks[0].input_parameters == {"x": "${workflow.input.x}"}

    with pytest.raises(BatonApiError) as caught:
        baton.register_workflow(first)
    assert caught.value.status_code == 409

    baton.register_workflow(chain(name, ["step_a"], description="replaced"), overwrite=True)
    assert baton.get_workflow_def(name).description == "replaced"

    second = chain(name, ["step_a", "step_b"], version=2)
    baton.update_workflows([second])
    assert baton.get_workflow_def(name).version == 2
    assert len(baton.get_workflow_def(name, version=1).tasks) == 1
    listed = {(d.name, d.version) for d in baton.list_workflow_defs()}
    assert {(name, 1), (name, 2)} <= listed

    baton.unregister_workflow(name, 2)
    assert baton.get_workflow_def(name).version == 1
    with pytest.raises(BatonApiError) as missing:
        baton.get_workflow_def(name, version=2)
    assert missing.value.status_code == 404


def test_invalid_definition_names_the_field(baton: BatonClient) -> None:
    bad = WorkflowDef(
        name=unique("bad"),
        tasks=[
            WorkflowTask(name="a", task_reference_name="same"),
            WorkflowTask(name="b", task_reference_name="same"),
        ],
    )
    with pytest.raises(BatonApiError) as caught:
        baton.register_workflow(bad)
    assert caught.value.status_code == 400
    assert caught.value.validation_errors, caught.value
    assert any("tasks" in e.path for e in caught.value.validation_errors)


def test_task_definitions_round_trip(baton: BatonClient) -> None:
    a, b = unique("td_a"), unique("td_b")
    baton.register_task_defs([quick_task_def(a), quick_task_def(b, retry_count=2)])
    got = baton.get_task_def(b)
    assert (got.name, got.retry_count, got.retry_delay_seconds) == (b, 2, 0)
    assert {a, b} <= {d.name for d in baton.list_task_defs()}

    baton.update_task_def(quick_task_def(b, retry_count=5))
    assert baton.get_task_def(b).retry_count == 5

    baton.unregister_task_def(a)
    with pytest.raises(BatonApiError) as caught:
        baton.get_task_def(a)
    assert caught.value.status_code == 404


def test_start_get_status_correlated_terminate_remove(baton: BatonClient) -> None:
    name = unique("runs")
    baton.register_workflow(chain(name, [unique("never_polled")]))
    first = baton.start_workflow(name, {"x": 1}, version=1, correlation_id="order-7", priority=10)
    second = baton.start(StartWorkflowRequest(name=name, input={"x": 2}, correlation_id="order-7"))
    assert first != second

    run = baton.get_workflow(first)
    assert (run.workflow_id, run.workflow_name, run.workflow_version) == (first, name, 1)
    assert (run.status, run.correlation_id, run.priority, run.input) == (
        WorkflowStatus.RUNNING,
        "order-7",
        10,
        {"x": 1},
    )
    assert [t.reference_task_name for t in run.tasks] == ["s0"]
    assert baton.get_workflow(first, include_tasks=False).tasks == []

    status = baton.get_workflow_status(first)
    assert (status.workflow_id, status.status) == (first, WorkflowStatus.RUNNING)

    correlated = baton.get_workflows_by_correlation_id(name, "order-7")
    assert {r.workflow_id for r in correlated} == {first, second}

    baton.terminate(first, reason="no longer needed")
    ended = wait_until_ended_as(baton, first, WorkflowStatus.TERMINATED)
    assert ended.reason_for_incompletion == "no longer needed"
    open_only = baton.get_workflows_by_correlation_id(name, "order-7")
    assert {r.workflow_id for r in open_only} == {second}
    with_closed = baton.get_workflows_by_correlation_id(name, "order-7", include_closed=True, include_tasks=True)
    assert {r.workflow_id for r in with_closed} == {first, second}

    baton.terminate(second)
    baton.remove(second)
    with pytest.raises(BatonApiError) as caught:
        baton.get_workflow(second)
    assert caught.value.status_code == 404


def test_start_unknown_workflow_is_404(baton: BatonClient) -> None:
    with pytest.raises(BatonApiError) as caught:
        baton.start_workflow(unique("nothing"))
    assert caught.value.status_code == 404


def test_idempotent_starts(baton: BatonClient) -> None:
    name = unique("idem")
    baton.register_workflow(chain(name, [unique("idem_step")]))
    key = unique("key")
    first = baton.start_workflow(name, idempotency_key=key, on_conflict=IdempotencyStrategy.RETURN_EXISTING)
    again = baton.start_workflow(name, idempotency_key=key, on_conflict="RETURN_EXISTING")
    assert again == first
    by_request = baton.start(
        StartWorkflowRequest(name=name), idempotency_key=key, on_conflict=IdempotencyStrategy.RETURN_EXISTING
    )
    assert by_request == first
    with pytest.raises(BatonApiError) as caught:
        baton.start_workflow(name, idempotency_key=key, on_conflict=IdempotencyStrategy.FAIL)
    assert caught.value.status_code == 409


def test_worker_task_routes(baton: BatonClient) -> None:
    name, task_type = unique("tasks"), unique("hand_run")
    baton.register_workflow(chain(name, [task_type, task_type]))
    assert baton.poll(task_type, "me", count=1, timeout_ms=100) == []
    assert baton.poll_one(task_type, "me") is None

    first_run = baton.start_workflow(name, {"x": 1})
    second_run = baton.start_workflow(name, {"x": 10})
    assert baton.queue_sizes(task_type) == {task_type: 2}
    assert baton.queue_sizes([task_type, unique("empty")])[task_type] == 2

    (task,) = baton.poll(task_type, "me", count=1, timeout_ms=2000)
    assert task.workflow_instance_id == first_run
    assert (task.status, task.worker_id, task.input_data) == (TaskStatus.IN_PROGRESS, "me", {"x": 1})
    assert baton.get_task(task.task_id).status is TaskStatus.IN_PROGRESS

    # update-v2: report s0 of the first run, get s0 of the second run back.
    result = TaskResult(
        task_id=task.task_id,
        workflow_instance_id=first_run,
        status=TaskResultStatus.COMPLETED,
        output_data={"x": 2},
        worker_id="me",
    )
    handed = baton.update_task_v2(result)
    assert handed is not None
    assert (handed.workflow_instance_id, handed.reference_task_name) == (second_run, "s0")
    assert baton.get_task(task.task_id).output_data == {"x": 2}

    # POST /api/tasks answers with the task id.
    assert (
        baton.update_task(
            TaskResult(
                task_id=handed.task_id,
                workflow_instance_id=second_run,
                status=TaskResultStatus.COMPLETED,
                output_data={"x": 20},
                worker_id="me",
            )
        )
        == handed.task_id
    )

    # Both runs now wait on s1; one by single poll, one completed by reference name without a poll.
    polled = baton.poll_one(task_type, "me")
    assert polled is not None and polled.input_data == {"x": 2}
    baton.update_task(
        TaskResult(
            task_id=polled.task_id,
            workflow_instance_id=polled.workflow_instance_id,
            status=TaskResultStatus.COMPLETED,
            output_data={"x": 3},
        )
    )
    task_id = baton.complete_task_by_ref(second_run, "s1", TaskResultStatus.COMPLETED, {"x": 21})
    assert baton.get_task(task_id).reference_task_name == "s1"

    assert wait_until_ended_as(baton, first_run, WorkflowStatus.COMPLETED).output == {"x": 3}
    assert wait_until_ended_as(baton, second_run, WorkflowStatus.COMPLETED).output == {"x": 21}
    assert baton.queue_sizes(task_type) == {task_type: 0}


def test_reporting_an_unknown_task_is_refused(baton: BatonClient) -> None:
    with pytest.raises(BatonApiError) as caught:
        baton.update_task(TaskResult(task_id="no-such-task", status=TaskResultStatus.COMPLETED))
    assert 400 <= caught.value.status_code < 500


def test_execute_waits_for_the_end_or_answers_206(baton: BatonClient) -> None:
    name, task_type = unique("exec"), unique("exec_step")
    baton.register_workflow(chain(name, [task_type]))

    pending, done = baton.execute_workflow(name, {"x": 1}, wait_for_seconds=1, request_id=unique("req"))
    assert done is False
    assert pending.status is WorkflowStatus.RUNNING
    baton.terminate(pending.workflow_id)

    worker = Worker(task_type=task_type, func=lambda x: {"x": x * 7}, poll_interval_ms=10)
    with WorkerRunner(baton, [worker], poll_timeout_ms=500):
        run, done = baton.execute_workflow(name, {"x": 6}, version=1, wait_for_seconds=20)
    assert done is True
    assert run.status is WorkflowStatus.COMPLETED
    assert run.output == {"x": 42}


async def test_async_client_round_trip(server: Any) -> None:
    name, task_type = unique("async"), unique("async_step")
    async with AsyncBatonClient(server.url, headers=ADMIN_HEADERS) as client:
        assert await client.health()
        await client.register_workflow(chain(name, [task_type]))
        workflow_id = await client.start_workflow(name, {"x": 4})
        (task,) = await client.poll(task_type, "async-worker", timeout_ms=2000)
        await client.update_task(
            TaskResult(
                task_id=task.task_id,
                workflow_instance_id=workflow_id,
                status=TaskResultStatus.COMPLETED,
                output_data={"x": 5},
            )
        )
        run = await client.get_workflow(workflow_id)
        assert run.tasks[0].status is TaskStatus.COMPLETED
