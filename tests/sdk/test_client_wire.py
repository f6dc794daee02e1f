"""What the client puts on the wire and how it reads answers, against a recording fake transport.

These pin the request shapes (paths, query names, headers, JSON) without a server;
``test_client_server.py`` runs the same calls against a real one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from baton.model import (
    IdempotencyStrategy,
    StartWorkflowRequest,
    TaskDef,
    TaskResult,
    TaskResultStatus,
    WorkflowDef,
    WorkflowTask,
)
from baton.sdk import AsyncBatonClient, BatonApiError, BatonClient, BatonConnectionError

TASK_JSON = {
    "taskId": "t1",
    "taskType": "work",
    "referenceTaskName": "w",
    "workflowInstanceId": "wf1",
    "workflowType": "flow",
    "status": "IN_PROGRESS",
    "inputData": {"a": 1},
    "visibleAt": 5,
    "somethingNew": {"ignored": True},
}


class Recorder:
    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self._answer = answer

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._answer(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def path(request: httpx.Request) -> str:
    """The path as sent, still escaped."""
    return request.url.raw_path.decode().split("?")[0]


def sent(request: httpx.Request) -> dict[str, Any]:
    """The JSON body, without the null and empty fields the model writes out."""
    body = json.loads(request.content)
    assert isinstance(body, dict)
    return {k: v for k, v in body.items() if v not in (None, [], {}, False)}


def client_with(answer: Callable[[httpx.Request], httpx.Response]) -> tuple[BatonClient, Recorder]:
    recorder = Recorder(answer)
    return BatonClient("http://baton.test/api/", transport=httpx.MockTransport(recorder)), recorder


def test_base_url_with_or_without_api_suffix() -> None:
    assert BatonClient("http://h:1/api").base_url == "http://h:1"
    assert BatonClient("http://h:1/").base_url == "http://h:1"


def test_start_workflow_by_name() -> None:
    client, rec = client_with(lambda r: httpx.Response(200, text="wf-123"))
    wid = client.start_workflow(
        "my flow",
        {"x": 1},
        version=2,
        correlation_id="c-1",
        priority=5,
        idempotency_key="k1",
        on_conflict=IdempotencyStrategy.RETURN_EXISTING,
    )
    assert wid == "wf-123"
    req = rec.last
    assert req.method == "POST"
    assert path(req) == "/api/workflow/my%20flow"
    assert dict(req.url.params) == {"version": "2", "correlationId": "c-1", "priority": "5"}
    assert req.headers["X-Idempotency-key"] == "k1"
    assert req.headers["X-on-conflict"] == "RETURN_EXISTING"
    assert req.headers["content-type"] == "application/json"
    assert json.loads(req.content) == {"x": 1}


def test_text_id_also_read_from_a_json_string() -> None:
    client, _ = client_with(lambda r: httpx.Response(200, json="wf-9", headers={"content-type": "application/json"}))
    assert client.start(StartWorkflowRequest(name="f")) == "wf-9"


def test_start_request_body_is_camel_case() -> None:
    client, rec = client_with(lambda r: httpx.Response(200, text="id"))
    client.start(StartWorkflowRequest(name="f", version=1, correlation_id="c", input={"a": 1}))
    assert rec.last.url.path == "/api/workflow"
    assert sent(rec.last) == {"name": "f", "version": 1, "correlationId": "c", "input": {"a": 1}}


@pytest.mark.parametrize(("status", "complete"), [(200, True), (206, False)])
def test_execute(status: int, complete: bool) -> None:
    body = {"workflowId": "wf1", "requestId": "r1", "status": "COMPLETED", "output": {"o": 1}}
    client, rec = client_with(lambda r: httpx.Response(status, json=body))
    run, done = client.execute_workflow(
        "flow", {"i": 1}, version=3, wait_for_seconds=4, wait_until_task_ref="ref", request_id="r1"
    )
    assert done is complete
    assert run.workflow_id == "wf1"
    assert run.output == {"o": 1}
    assert rec.last.url.path == "/api/workflow/execute/flow/3"
    assert dict(rec.last.url.params) == {"requestId": "r1", "waitUntilTaskRef": "ref", "waitForSeconds": "4"}
    assert sent(rec.last) == {"name": "flow", "version": 3, "input": {"i": 1}}


def test_execute_without_version_has_no_version_segment() -> None:
    client, rec = client_with(lambda r: httpx.Response(200, json={"workflowId": "w", "status": "RUNNING"}))
    client.execute_workflow("flow")
    assert rec.last.url.path == "/api/workflow/execute/flow"
    assert rec.last.url.params == httpx.QueryParams()


def test_execute_reads_a_full_workflow_body_too() -> None:
    body = {"workflowId": "w", "workflowName": "flow", "workflowVersion": 1, "status": "FAILED", "tasks": []}
    client, _ = client_with(lambda r: httpx.Response(200, json=body))
    run, _done = client.execute_workflow("flow")
    assert (run.workflow_name, run.status.value) == ("flow", "FAILED")


def test_metadata_calls() -> None:
    client, rec = client_with(lambda r: httpx.Response(200, json=[]))
    defn = WorkflowDef(name="flow", tasks=[WorkflowTask(name="t", task_reference_name="t1")])
    client.register_workflow(defn, overwrite=True)
    assert (rec.last.method, rec.last.url.path, rec.last.url.query) == (
        "POST",
        "/api/metadata/workflow",
        b"overwrite=true",
    )
    assert json.loads(rec.last.content)["tasks"][0]["taskReferenceName"] == "t1"
    client.register_workflow(defn)
    assert rec.last.url.query == b""
    client.update_workflows([defn])
    assert rec.last.method == "PUT"
    assert isinstance(json.loads(rec.last.content), list)
    client.unregister_workflow("flow", 2)
    assert (rec.last.method, rec.last.url.path) == ("DELETE", "/api/metadata/workflow/flow/2")
    client.register_task_defs([TaskDef(name="t", retry_count=0)])
    (task_def,) = json.loads(rec.last.content)
    assert (task_def["name"], task_def["retryCount"]) == ("t", 0)
    client.update_task_def(TaskDef(name="t"))
    assert (rec.last.method, sent(rec.last)["name"]) == ("PUT", "t")
    client.unregister_task_def("t")
    assert (rec.last.method, rec.last.url.path) == ("DELETE", "/api/metadata/taskdefs/t")


def test_poll_and_update() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/tasks/poll/batch"):
            return httpx.Response(200, json=[TASK_JSON])
        if request.url.path == "/api/tasks/update-v2":
            return httpx.Response(204)
        return httpx.Response(200, text="t1", headers={"content-type": "text/plain"})

    client, rec = client_with(answer)
    (task,) = client.poll("work", "w-1", count=3, timeout_ms=250, domain="d")
    assert task.task_id == "t1" and task.input_data == {"a": 1}
    assert dict(rec.last.url.params) == {"workerid": "w-1", "count": "3", "timeout": "250", "domain": "d"}
    result = TaskResult(task_id="t1", workflow_instance_id="wf1", status=TaskResultStatus.COMPLETED)
    assert client.update_task_v2(result) is None
    assert sent(rec.last) == {"taskId": "t1", "workflowInstanceId": "wf1", "status": "COMPLETED"}
    assert client.update_task(result) == "t1"
    assert rec.last.url.path == "/api/tasks"


def test_update_v2_hands_back_the_next_task() -> None:
    client, _ = client_with(lambda r: httpx.Response(200, json=TASK_JSON))
    result = TaskResult(task_id="t0", status=TaskResultStatus.COMPLETED)
    task = client.update_task_v2(result)
    assert task is not None and task.task_id == "t1"


def test_poll_one_none_on_204_and_empty_list_on_204_batch() -> None:
    client, _ = client_with(lambda r: httpx.Response(204))
    assert client.poll_one("work", "w") is None
    assert client.poll("work", "w") == []


def test_queue_sizes_and_complete_by_ref() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/tasks/queue/sizes":
            return httpx.Response(200, json={"a": 2, "b": 0})
        return httpx.Response(200, text="t-5")

    client, rec = client_with(answer)
    assert client.queue_sizes(["a", "b"]) == {"a": 2, "b": 0}
    assert rec.last.url.params.get_list("taskType") == ["a", "b"]
    assert client.complete_task_by_ref("wf1", "ref/1", "COMPLETED", {"o": 1}, worker_id="me") == "t-5"
    assert path(rec.last) == "/api/tasks/wf1/ref%2F1/COMPLETED"
    assert rec.last.url.params["workerid"] == "me"
    assert json.loads(rec.last.content) == {"o": 1}


def test_run_queries() -> None:
    run = {"workflowId": "wf1", "workflowName": "f", "workflowVersion": 1, "status": "RUNNING"}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/status"):
            return httpx.Response(200, json={"workflowId": "wf1", "status": "RUNNING"})
        if "/correlated/" in request.url.path:
            return httpx.Response(200, json=[run])
        if request.method == "DELETE":
            return httpx.Response(200)
        return httpx.Response(200, json=run)

    client, rec = client_with(answer)
    assert client.get_workflow("wf1", include_tasks=False).workflow_id == "wf1"
    assert rec.last.url.params["includeTasks"] == "false"
    assert client.get_workflow_status("wf1").status.value == "RUNNING"
    (found,) = client.get_workflows_by_correlation_id("f", "c 1", include_closed=True)
    assert found.workflow_id == "wf1"
    assert path(rec.last) == "/api/workflow/f/correlated/c%201"
    assert dict(rec.last.url.params) == {"includeClosed": "true", "includeTasks": "false"}
    client.terminate("wf1", reason="enough")
    assert (rec.last.method, rec.last.url.path, rec.last.url.params["reason"]) == (
        "DELETE",
        "/api/workflow/wf1",
        "enough",
    )
    client.remove("wf1")
    assert (rec.last.method, rec.last.url.path) == ("DELETE", "/api/workflow/wf1/remove")


def test_error_body_is_read() -> None:
    body = {
        "status": 400,
        "message": "bad definition",
        "validationErrors": [{"path": "tasks[0].name", "message": "required"}],
    }
    client, _ = client_with(lambda r: httpx.Response(400, json=body))
    with pytest.raises(BatonApiError) as caught:
        client.get_workflow_def("x")
    err = caught.value
    assert err.status_code == 400
    assert err.message == "bad definition"
    assert [(e.path, e.message) for e in err.validation_errors] == [("tasks[0].name", "required")]
    assert "tasks[0].name: required" in str(err)


def test_error_without_json_body() -> None:
    client, _ = client_with(lambda r: httpx.Response(502, text="Bad Gateway"))
    with pytest.raises(BatonApiError) as caught:
        client.get_task("t")
    assert (caught.value.status_code, caught.value.message) == (502, "Bad Gateway")


def test_connection_error_is_wrapped() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client, _ = client_with(refuse)
    with pytest.raises(BatonConnectionError):
        client.health()


def test_extra_headers_sent_on_every_request() -> None:
    recorder = Recorder(lambda r: httpx.Response(200, json=[]))
    client = BatonClient(
        "http://baton.test", headers={"X-Authorization": "key"}, transport=httpx.MockTransport(recorder)
    )
    client.list_task_defs()
    assert recorder.last.headers["X-Authorization"] == "key"


async def test_async_client_same_calls() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/workflow/flow":
            return httpx.Response(200, text="wf-a")
        if request.url.path.startswith("/api/tasks/poll/batch"):
            return httpx.Response(200, json=[TASK_JSON])
        return httpx.Response(404, json={"status": 404, "message": "nope"})

    recorder = Recorder(answer)
    async with AsyncBatonClient("http://baton.test", transport=httpx.MockTransport(recorder)) as client:
        assert await client.start_workflow("flow", {"a": 1}) == "wf-a"
        tasks = await client.poll("work", "w", count=2, timeout_ms=10)
        assert [t.task_id for t in tasks] == ["t1"]
        with pytest.raises(BatonApiError) as caught:
            await client.get_workflow("nope")
        assert caught.value.status_code == 404
