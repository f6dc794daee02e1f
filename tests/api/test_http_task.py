"""HTTP tasks, run by the server's own executors against a real local HTTP server."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.http_target import HttpTarget, http_target
from tests.conftest import ServerProcess, free_port
from tests.helpers import register, start, wait_for_status

__all__ = ["http_target"]


def http_workflow(name: str, request: dict[str, Any], **step: Any) -> dict[str, Any]:
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": step.pop("task_name", "call"),
                "taskReferenceName": "call",
                "type": "HTTP",
                "inputParameters": {"http_request": request},
                **step,
            }
        ],
        "outputParameters": {"answer": "${call.output.response.body}"},
    }


def test_a_get_completes_with_the_parsed_json_response(client: httpx.Client, http_target: HttpTarget) -> None:
    register(client, http_workflow("http_get", {"uri": "${workflow.input.url}", "method": "GET"}))
    workflow_id = start(client, "http_get", {"url": f"{http_target.url}/json/get"})
    run = wait_for_status(client, workflow_id, "COMPLETED")
    [task] = run["tasks"]
    assert task["taskType"] == "HTTP" and task["status"] == "COMPLETED"
    response = task["outputData"]["response"]
    assert response["statusCode"] == 200
    assert response["reasonPhrase"] == "OK"
    assert response["body"] == {"method": "GET", "path": "/json/get", "n": 42}
    assert response["headers"]["x-target"] == ["yes"]
    assert run["output"] == {"answer": {"method": "GET", "path": "/json/get", "n": 42}}
    [seen] = http_target.requests_to("/json/get")
    assert seen.headers["Accept"] == "application/json"


def test_a_post_sends_its_body_as_json_with_its_headers(client: httpx.Client, http_target: HttpTarget) -> None:
    request = {
        "uri": f"{http_target.url}/json/post",
        "method": "POST",
        "headers": {"X-Trace": "t-1"},
        "body": {"order": "${workflow.input.order}", "items": [1, 2]},
        "connectionTimeOut": 2000,
        "readTimeOut": 2000,
    }
    register(client, http_workflow("http_post", request))
    workflow_id = start(client, "http_post", {"order": "o-7"})
    wait_for_status(client, workflow_id, "COMPLETED")
    [seen] = http_target.requests_to("/json/post")
    assert seen.method == "POST"
    assert seen.headers["X-Trace"] == "t-1"
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.json() == {"order": "o-7", "items": [1, 2]}


def test_a_text_response_body_is_kept_as_text(client: httpx.Client, http_target: HttpTarget) -> None:
    register(client, http_workflow("http_text", {"uri": f"{http_target.url}/text", "method": "GET"}))
    run = wait_for_status(client, start(client, "http_text"), "COMPLETED")
    assert run["tasks"][0]["outputData"]["response"]["body"] == "plain words"


def test_a_non_2xx_answer_fails_the_task_and_the_run(client: httpx.Client, http_target: HttpTarget) -> None:
    register(client, http_workflow("http_500", {"uri": f"{http_target.url}/status/500", "method": "GET"}))
    run = wait_for_status(client, start(client, "http_500"), "FAILED")
    [task] = run["tasks"]
    assert task["status"] == "FAILED"
    assert task["outputData"]["response"]["statusCode"] == 500
    assert "500" in task["reasonForIncompletion"] and "answered 500" in task["reasonForIncompletion"]
    assert run["failedReferenceTaskNames"] == ["call"]


def test_a_refused_connection_fails_the_task(client: httpx.Client) -> None:
    # A port that was free a moment ago: nothing listens on it.
    register(client, http_workflow("http_refused", {"uri": f"http://127.0.0.1:{free_port()}/x", "method": "GET"}))
    run = wait_for_status(client, start(client, "http_refused"), "FAILED")
    assert "the call failed" in run["tasks"][0]["reasonForIncompletion"]


def test_a_failed_call_is_retried_per_its_task_definition(client: httpx.Client, http_target: HttpTarget) -> None:
    response = client.post(
        "/api/metadata/taskdefs", json=[{"name": "flaky_call", "retryCount": 2, "retryDelaySeconds": 0}]
    )
    assert response.status_code == 200, response.text
    request = {"uri": f"{http_target.url}/flaky/2", "method": "GET"}
    register(client, http_workflow("http_retry", request, task_name="flaky_call"))
    run = wait_for_status(client, start(client, "http_retry"), "COMPLETED")
    assert [t["status"] for t in run["tasks"]] == ["FAILED", "FAILED", "COMPLETED"]
    assert [t["retryCount"] for t in run["tasks"]] == [0, 1, 2]
    assert len(http_target.requests_to("/flaky/2")) == 3
    assert run["tasks"][2]["outputData"]["response"]["body"] == {"ok": True}


def test_bad_http_requests_are_refused_at_registration_naming_the_field(client: httpx.Client) -> None:
    # A missing or non-http uri is accepted, as Conductor accepts it: the task fails when it runs
    # (tests/api/test_conductor_leniency.py).
    cases = [
        ({"uri": "http://example.com", "method": "FETCH"}, "tasks[0].inputParameters.http_request.method"),
        ({"uri": "http://example.com", "readTimeOut": -1}, "tasks[0].inputParameters.http_request.readTimeOut"),
    ]
    for request, field in cases:
        response = client.post("/api/metadata/workflow", json=http_workflow("http_bad", request))
        assert response.status_code == 400, response.text
        assert field in [e["path"] for e in response.json()["validationErrors"]], response.json()
    missing = http_workflow("http_bad", {})
    missing["tasks"][0]["inputParameters"] = {}
    response = client.post("/api/metadata/workflow", json=missing)
    assert response.status_code == 400
    assert [e["path"] for e in response.json()["validationErrors"]] == ["tasks[0].inputParameters.http_request"]
    assert client.get("/api/metadata/workflow/http_bad").status_code == 404


@pytest.mark.slow
def test_a_server_killed_mid_call_hands_the_call_to_its_restart(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_target: HttpTarget
) -> None:
    monkeypatch.setenv("BATON_SERVER_TASK_LEASE_SECONDS", "2")
    server = ServerProcess(store_url, tmp_path / "server.log")
    server.start()
    try:
        with server.client(timeout=30) as client:
            register(client, http_workflow("http_crash", {"uri": f"{http_target.url}/gate", "method": "GET"}))
            workflow_id = start(client, "http_crash")
            deadline = time.monotonic() + 15
            while not http_target.requests_to("/gate"):
                assert time.monotonic() < deadline, "the server never made the call"
                time.sleep(0.02)
            server.kill()
            http_target.gate.set()
            server.start()
            run = wait_for_status(client, workflow_id, "COMPLETED", timeout=30)
            [task] = run["tasks"]
            assert task["retryCount"] == 0 and task["pollCount"] == 2
            assert task["outputData"]["response"]["body"] == {"passed": True}
            assert len(http_target.requests_to("/gate")) == 2
    finally:
        server.stop()


def test_calls_in_flight_are_bounded_by_the_executor_concurrency(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, http_target: HttpTarget
) -> None:
    monkeypatch.setenv("BATON_EXECUTOR_CONCURRENCY", "2")
    server = ServerProcess(store_url, tmp_path / "server.log")
    server.start()
    try:
        with server.client(timeout=30) as client:
            register(client, http_workflow("http_gated", {"uri": f"{http_target.url}/gate", "method": "GET"}))
            ids = [start(client, "http_gated") for _ in range(5)]
            deadline = time.monotonic() + 15
            while len(http_target.requests_to("/gate")) < 2:
                assert time.monotonic() < deadline, "the server never made two calls"
                time.sleep(0.02)
            # Both slots are busy until the gate opens: the other three stay in the queue, unclaimed.
            sizes = client.get("/api/tasks/queue/sizes", params={"taskType": "HTTP"}).json()
            assert sizes == {"HTTP": 3}
            assert len(http_target.requests_to("/gate")) == 2
            http_target.gate.set()
            for workflow_id in ids:
                wait_for_status(client, workflow_id, "COMPLETED")
            assert len(http_target.requests_to("/gate")) == 5
    finally:
        server.stop()


def test_an_async_complete_call_waits_for_its_completion(client: httpx.Client, http_target: HttpTarget) -> None:
    request = {"uri": f"{http_target.url}/json/async", "method": "GET"}
    register(client, http_workflow("http_async", request, asyncComplete=True))
    workflow_id = start(client, "http_async")
    deadline = time.monotonic() + 15
    while True:
        task = client.get(f"/api/workflow/{workflow_id}").json()["tasks"][0]
        if task["status"] == "IN_PROGRESS" and "response" in task["outputData"]:
            break
        assert time.monotonic() < deadline, task
        time.sleep(0.05)
    assert task["outputData"]["response"]["statusCode"] == 200
    assert client.get(f"/api/workflow/{workflow_id}/status").json()["status"] == "RUNNING"
    response = client.post(f"/api/tasks/{workflow_id}/call/COMPLETED", json={"confirmed": True})
    assert response.status_code == 200, response.text
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert run["tasks"][0]["outputData"]["confirmed"] is True
