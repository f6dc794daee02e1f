"""conductor-python 2.0.0's own calls for the routes of ``tests/api/test_conductor_extra_routes.py`` and
``tests/api/test_workflow_test.py``: ``test_workflow``, ``update_task_sync``, ``get_workflows`` (correlated, many
ids), ``get_poll_data`` and ``get_all_poll_data``, against a real ``baton serve``."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

pytest.importorskip("conductor.client")

from conductor.client.http.api.task_resource_api import TaskResourceApi
from conductor.client.http.api.workflow_resource_api import WorkflowResourceApi
from conductor.client.http.api_client import ApiClient
from conductor.client.http.models.workflow import Workflow
from conductor.client.http.models.workflow_test_request import TaskMock, WorkflowTestRequest

from tests.helpers import (
    child_workflow,
    conductor_configuration,
    parent_workflow,
    poll,
    register,
    start,
    task_defs,
    unique,
    worker,
)

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning"),
]


@pytest.fixture
def api_client(server: Any) -> ApiClient:
    return ApiClient(conductor_configuration(server.url))


def test_test_workflow(client: httpx.Client, api_client: ApiClient) -> None:
    name, step = unique("py_tested"), unique("py_step")
    child, work = unique("py_child"), unique("py_child_work")
    task_defs(client, {"name": step, "retryCount": 1, "retryDelaySeconds": 0})
    register(client, child_workflow(child, work))
    parent = parent_workflow(name, child=child)
    parent["tasks"].insert(0, worker("pay", step))
    parent["outputParameters"] = {"fromChild": "${sub.output.doubled}", "paid": "${pay.output.status}"}
    register(client, parent)

    request = WorkflowTestRequest(
        name=name,
        version=1,
        input={"value": 5},
        # The client sends these under its private names, and a field left to its default as a property's text.
        task_ref_to_mock_output={
            "pay": [TaskMock(status="FAILED", output={"try": 1}), TaskMock(output={"status": "PAID"})]
        },
        sub_workflow_test_request={
            "sub": WorkflowTestRequest(name=child, task_ref_to_mock_output={work: [TaskMock(output={"doubled": 10})]})
        },
    )
    run = WorkflowResourceApi(api_client).test_workflow(request)

    assert isinstance(run, Workflow)
    assert run.status == "COMPLETED" and run.output == {"fromChild": 10, "paid": "PAID"}
    assert [(t.reference_task_name, t.status) for t in run.tasks] == [
        ("pay", "FAILED"),
        ("pay", "COMPLETED"),
        ("sub", "COMPLETED"),
    ]
    assert run.tasks[0].output_data == {"try": 1}


def test_update_task_sync(client: httpx.Client, api_client: ApiClient) -> None:
    name, step = unique("py_synced"), unique("py_step")
    register(client, {"name": name, "version": 1, "tasks": [worker("first", step), worker("second", step)]})
    workflow_id = start(client, name)

    run = TaskResourceApi(api_client).update_task_sync({"k": 1}, workflow_id, "first", "COMPLETED")

    assert isinstance(run, Workflow) and run.workflow_id == workflow_id and run.status == "RUNNING"
    first, second = run.tasks
    assert (first.status, first.output_data, first.worker_id) == ("COMPLETED", {"k": 1}, socket.gethostname())
    assert (second.reference_task_name, second.status) == ("second", "SCHEDULED")


def test_get_workflows_of_many_correlation_ids(client: httpx.Client, api_client: ApiClient) -> None:
    name, step = unique("py_correlated"), unique("py_step")
    register(client, {"name": name, "version": 1, "tasks": [worker("only", step)]})
    first = start(client, name, correlationId="a")
    second = start(client, name, correlationId="b")

    found = WorkflowResourceApi(api_client).get_workflows(
        ["a", "b", "c"], name, include_closed=False, include_tasks=True
    )

    assert set(found) == {"a", "b", "c"}
    assert [run.workflow_id for run in found["a"]] == [first]
    assert [run.workflow_id for run in found["b"]] == [second]
    assert found["c"] == []
    assert [t.reference_task_name for t in found["a"][0].tasks] == ["only"]


def test_get_poll_data(client: httpx.Client, api_client: ApiClient) -> None:
    task_type = unique("py_polled")
    poll(client, task_type, timeout_ms=0)

    (data,) = TaskResourceApi(api_client).get_poll_data(task_type)

    assert (data.queue_name, data.domain, data.worker_id) == (task_type, None, "test-worker")
    assert data.last_poll_time > 0


def test_get_all_poll_data(client: httpx.Client, api_client: ApiClient) -> None:
    task_type = unique("py_polled")
    client.get(f"/api/tasks/poll/{task_type}", params={"workerid": "py-worker", "domain": "blue"})

    every = TaskResourceApi(api_client).get_all_poll_data()

    mine = [(p.domain, p.worker_id) for p in every if p.queue_name == task_type]
    assert mine == [("blue", "py-worker")]
