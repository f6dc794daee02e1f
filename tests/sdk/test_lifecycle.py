"""An operator's operations through the bundled clients and through the official conductor-python client,
against a real ``baton serve``."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from baton.model import (
    RerunWorkflowRequest,
    SkipTaskRequest,
    TaskResult,
    TaskResultStatus,
    TaskStatus,
    WorkflowStatus,
)
from baton.sdk import AsyncBatonClient, BatonApiError, BatonClient
from tests.helpers import ADMIN_HEADERS, chain, conductor_configuration, quick_task_def, unique, wait_until_ended_as

pytestmark = [
    pytest.mark.timeout(90),
    # conductor-python's own models call their deprecated accessors when reading definitions.
    pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning"),
]


@pytest.fixture
def baton(server: Any) -> Iterator[BatonClient]:
    with BatonClient(server.url, timeout=30, headers=ADMIN_HEADERS) as client:
        yield client


def finish(
    client: BatonClient, task_type: str, x: int, *, status: TaskResultStatus = TaskResultStatus.COMPLETED
) -> str:
    (task,) = client.poll(task_type, "sdk-worker", timeout_ms=3000)
    client.update_task(
        TaskResult(
            task_id=task.task_id,
            workflow_instance_id=task.workflow_instance_id,
            status=status,
            output_data={"x": x},
            reason_for_incompletion="failed on purpose" if status is not TaskResultStatus.COMPLETED else None,
        )
    )
    return task.task_id


def test_operations_through_the_bundled_client(baton: BatonClient) -> None:
    name, first, second = unique("ops"), unique("ops_a"), unique("ops_b")
    baton.register_task_defs([quick_task_def(first), quick_task_def(second)])
    baton.register_workflow(chain(name, [first, second]))
    workflow_id = baton.start_workflow(name, {"x": 1})

    baton.pause(workflow_id)
    assert baton.get_workflow_status(workflow_id).status is WorkflowStatus.PAUSED
    with pytest.raises(BatonApiError) as caught:
        baton.skip_task(workflow_id, "s1")
    assert caught.value.status_code == 409 and "PAUSED" in caught.value.message
    baton.resume(workflow_id)
    baton.decide(workflow_id)
    assert baton.update_variables(workflow_id, {"v": 1}).variables == {"v": 1}

    first_task = finish(baton, first, 2)
    baton.add_task_log(first_task, "a line")
    assert [log.log for log in baton.get_task_logs(first_task)] == ["a line"]
    finish(baton, second, 3, status=TaskResultStatus.FAILED)
    wait_until_ended_as(baton, workflow_id, WorkflowStatus.FAILED)

    baton.retry(workflow_id)
    assert [t.status for t in baton.get_workflow(workflow_id).tasks] == [
        TaskStatus.COMPLETED,
        TaskStatus.FAILED,
        TaskStatus.SCHEDULED,
    ]
    finish(baton, second, 4)
    wait_until_ended_as(baton, workflow_id, WorkflowStatus.COMPLETED)

    assert baton.rerun(workflow_id, RerunWorkflowRequest(re_run_from_task_id=first_task, task_input={"x": 9})) == (
        workflow_id
    )
    (task,) = baton.poll(first, "sdk-worker", timeout_ms=3000)
    assert (task.task_id, task.input_data) == (first_task, {"x": 9})

    baton.terminate(workflow_id)
    baton.restart(workflow_id, use_latest_definitions=True)
    restarted = baton.get_workflow(workflow_id)
    assert (restarted.status, len(restarted.tasks)) == (WorkflowStatus.RUNNING, 1)
    baton.skip_task(workflow_id, "s0", SkipTaskRequest(task_output={"x": 5}))
    finish(baton, second, 6)
    assert wait_until_ended_as(baton, workflow_id, WorkflowStatus.COMPLETED).output == {"x": 6}

    other = baton.start_workflow(name, {"x": 1})
    paused = baton.bulk_pause([workflow_id, other])
    assert paused.bulk_successful_results == [other] and list(paused.bulk_error_results) == [workflow_id]
    assert baton.bulk_resume([other]).bulk_successful_results == [other]
    assert baton.bulk_terminate([other], reason="enough").bulk_successful_results == [other]
    assert baton.bulk_retry([other]).bulk_successful_results == [other]
    assert baton.bulk_terminate([other]).bulk_successful_results == [other]
    assert baton.bulk_restart([other, workflow_id]).bulk_successful_results == [other, workflow_id]


async def test_operations_through_the_async_client(server: Any) -> None:
    name, task_type = unique("async_ops"), unique("async_ops_step")
    async with AsyncBatonClient(server.url, headers=ADMIN_HEADERS) as client:
        await client.register_workflow(chain(name, [task_type]))
        workflow_id = await client.start_workflow(name, {"x": 1})
        await client.pause(workflow_id)
        assert (await client.bulk_resume([workflow_id])).bulk_successful_results == [workflow_id]
        await client.skip_task(workflow_id, "s0", SkipTaskRequest(task_output={"x": 2}))
        run = await client.get_workflow(workflow_id)
        assert (run.status, run.output) == (WorkflowStatus.COMPLETED, {"x": 2})
        await client.restart(workflow_id)
        (task,) = await client.poll(task_type, "async-worker", timeout_ms=3000)
        await client.add_task_log(task.task_id, "hello")
        assert [log.log for log in await client.get_task_logs(task.task_id)] == ["hello"]
        await client.decide(workflow_id)
        assert (await client.update_variables(workflow_id, {"k": "v"})).variables == {"k": "v"}
        await client.terminate(workflow_id)
        await client.retry(workflow_id)
        await client.bulk_terminate([workflow_id])
        assert await client.rerun(workflow_id) == workflow_id
        assert (await client.bulk_pause([workflow_id])).bulk_successful_results == [workflow_id]
        assert (await client.bulk_retry([workflow_id])).bulk_error_results[workflow_id].endswith("PAUSED")
        await client.resume(workflow_id)
        assert (await client.bulk_restart([workflow_id])).bulk_error_results[workflow_id].endswith("RUNNING")


def test_conductor_python_lifecycle_calls(server: Any) -> None:
    pytest.importorskip("conductor.client")
    from conductor.client.http.api.workflow_bulk_resource_api import WorkflowBulkResourceApi
    from conductor.client.http.api_client import ApiClient
    from conductor.client.http.models.rerun_workflow_request import RerunWorkflowRequest as CpyRerun
    from conductor.client.http.models.skip_task_request import SkipTaskRequest as CpySkip
    from conductor.client.http.models.task_result import TaskResult as CpyTaskResult
    from conductor.client.http.models.task_result_status import TaskResultStatus as CpyStatus
    from conductor.client.http.rest import ApiException
    from conductor.client.orkes.orkes_task_client import OrkesTaskClient
    from conductor.client.orkes.orkes_workflow_client import OrkesWorkflowClient

    config = conductor_configuration(server.url)
    workflows, tasks = OrkesWorkflowClient(config), OrkesTaskClient(config)
    name, task_type = unique("cpy_ops"), unique("cpy_ops_step")
    with BatonClient(server.url, headers=ADMIN_HEADERS) as baton:
        baton.register_task_defs([quick_task_def(task_type)])
        baton.register_workflow(chain(name, [task_type, task_type]))
    workflow_id = workflows.start_workflow_by_name(name, {"x": 1})

    def status() -> str:
        result: str = workflows.get_workflow(workflow_id, include_tasks=False).status
        return result

    workflows.pause_workflow(workflow_id)
    assert status() == "PAUSED"
    workflows.resume_workflow(workflow_id)
    assert status() == "RUNNING"
    with pytest.raises(ApiException) as caught:
        workflows.resume_workflow(workflow_id)
    assert caught.value.status == 409

    workflows.skip_task_from_workflow(workflow_id, "s1", CpySkip(task_output={"x": 0}))
    (task,) = tasks.batch_poll_tasks(task_type, worker_id="cpy", count=1, timeout_in_millisecond=3000)
    tasks.add_task_log(task.task_id, "from conductor-python")
    assert [log.log for log in tasks.get_task_logs(task.task_id)] == ["from conductor-python"]
    result = CpyTaskResult(task_id=task.task_id, workflow_instance_id=workflow_id, worker_id="cpy")
    result.status = CpyStatus.FAILED
    result.reason_for_incompletion = "failed on purpose"
    tasks.update_task(result)
    deadline = time.monotonic() + 20
    while status() != "FAILED" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert status() == "FAILED"

    workflows.retry_workflow(workflow_id)
    assert status() == "RUNNING"
    workflows.terminate_workflow(workflow_id, reason="by conductor-python")
    workflows.restart_workflow(workflow_id, use_latest_def=True)
    assert status() == "RUNNING"
    workflows.terminate_workflow(workflow_id)
    rerun_id = workflows.rerun_workflow(workflow_id, CpyRerun(workflow_input={"x": 5}))
    assert rerun_id == workflow_id
    (again,) = tasks.batch_poll_tasks(task_type, worker_id="cpy", count=1, timeout_in_millisecond=3000)
    assert again.input_data == {"x": 5}
    workflows.update_variables(workflow_id, {"from": "cpy"})
    assert workflows.get_workflow(workflow_id, include_tasks=False).variables == {"from": "cpy"}

    bulk = WorkflowBulkResourceApi(ApiClient(config))
    paused = bulk.pause_workflow([workflow_id, "no-such-run"])
    assert paused.bulk_successful_results == [workflow_id]
    assert list(paused.bulk_error_results) == ["no-such-run"]
    assert bulk.resume_workflow([workflow_id]).bulk_successful_results == [workflow_id]
    assert bulk.terminate([workflow_id], reason="bulk").bulk_successful_results == [workflow_id]
    assert bulk.retry([workflow_id]).bulk_successful_results == [workflow_id]
    assert bulk.restart([workflow_id]).bulk_error_results[workflow_id].endswith("RUNNING")


def test_operations_on_the_wire() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.startswith("/api/workflow/bulk/"):
            return httpx.Response(
                200, json={"bulkErrorResults": {"b": "No such workflow: b"}, "bulkSuccessfulResults": ["a"]}
            )
        if request.url.path.endswith("/rerun"):
            return httpx.Response(200, text="wf 1")
        if request.url.path.endswith("/log") and request.method == "GET":
            return httpx.Response(200, json=[{"log": "l", "taskId": "t/1", "createdTime": 3}])
        return httpx.Response(204 if request.url.path.endswith(("/restart", "/retry")) else 200)

    with BatonClient("http://baton.test/api", transport=httpx.MockTransport(answer)) as client:
        client.pause("wf 1")
        client.restart("wf 1", use_latest_definitions=True)
        client.retry("wf 1")
        assert client.rerun("wf 1", RerunWorkflowRequest(re_run_from_task_id="t1")) == "wf 1"
        client.skip_task("wf 1", "ref/1", SkipTaskRequest(task_output={"a": 1}))
        client.decide("wf 1")
        bulk = client.bulk_terminate(["a", "b"], reason="why")
        client.add_task_log("t/1", "a line")
        logs = client.get_task_logs("t/1")

    assert [(r.method, r.url.raw_path.decode()) for r in seen] == [
        ("PUT", "/api/workflow/wf%201/pause"),
        ("POST", "/api/workflow/wf%201/restart?useLatestDefinitions=true"),
        ("POST", "/api/workflow/wf%201/retry?resumeSubworkflowTasks=false"),
        ("POST", "/api/workflow/wf%201/rerun"),
        ("PUT", "/api/workflow/wf%201/skiptask/ref%2F1"),
        ("PUT", "/api/workflow/decide/wf%201"),
        ("POST", "/api/workflow/bulk/terminate?reason=why"),
        ("POST", "/api/tasks/t%2F1/log"),
        ("GET", "/api/tasks/t%2F1/log"),
    ]
    assert json.loads(seen[3].content)["reRunFromTaskId"] == "t1"
    assert json.loads(seen[4].content)["taskOutput"] == {"a": 1}
    assert json.loads(seen[6].content) == ["a", "b"]
    assert json.loads(seen[7].content) == "a line"
    assert (bulk.bulk_successful_results, bulk.bulk_error_results) == (["a"], {"b": "No such workflow: b"})
    assert [(log.log, log.task_id, log.created_time) for log in logs] == [("l", "t/1", 3)]
