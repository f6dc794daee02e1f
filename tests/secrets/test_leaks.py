"""Where a secret's value must never show: every read route, the server's log (at debug), an outgoing webhook's
body, an error message. And what a server without a key, or with a bad one, says."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.api.http_target import HttpTarget, http_target
from tests.conftest import ServerProcess, fresh_database
from tests.helpers import complete, register, start, take, task_defs, unique, wait_for_status

__all__ = ["http_target"]

pytestmark = pytest.mark.timeout(90)

_QUICK_WEBHOOKS = {"BATON_WEBHOOK_POLL_INTERVAL_MS": "50", "BATON_WEBHOOK_ENVIRONMENT": "test"}


@pytest.fixture
def debug_server(server_store: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of its own, logging everything (``--log-level debug``), with quick webhooks."""
    with fresh_database(server_store, tmp_path) as url:
        process = ServerProcess(url, tmp_path / "server.log", ["--log-level", "debug"], env=_QUICK_WEBHOOKS)
        process.start()
        try:
            yield process
        finally:
            process.stop()


def _leaky_flow(name: str, task_type: str, secret: str, target: str) -> dict[str, Any]:
    reference = f"${{workflow.secrets.{secret}}}"
    request = {
        "uri": f"{target}/json/echo?key={reference}",
        "method": "POST",
        "headers": {"Authorization": f"Bearer {reference}"},
        "body": {"token": reference},
    }
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {"name": "call", "taskReferenceName": "call", "type": "HTTP", "inputParameters": {"http_request": request}},
            {"name": task_type, "taskReferenceName": "work", "type": "SIMPLE", "inputParameters": {"key": reference}},
            {
                "name": "keep",
                "taskReferenceName": "keep",
                "type": "SET_VARIABLE",
                "inputParameters": {"copied": reference},
            },
        ],
        "outputParameters": {"echo": "${call.output.response.body}", "direct": reference, "work": "${work.input}"},
    }


def _failing_flow(name: str, secret: str, target: str) -> dict[str, Any]:
    request = {"uri": f"{target}/refused?key=${{workflow.secrets.{secret}}}", "method": "GET"}
    step = {"name": "call", "taskReferenceName": "call", "type": "HTTP", "inputParameters": {"http_request": request}}
    return {"name": name, "version": 1, "tasks": [step]}


def _read_everything(http: httpx.Client, workflow_ids: list[str], names: list[str]) -> list[str]:
    """Every read route's answer about these runs: runs, tasks, task logs, searches, webhook deliveries."""
    answers: list[str] = []
    for workflow_id in workflow_ids:
        run = http.get(f"/api/workflow/{workflow_id}")
        answers.append(run.text)
        for task in run.json()["tasks"]:
            answers.append(http.get(f"/api/tasks/{task['taskId']}").text)
            answers.append(http.get(f"/api/tasks/{task['taskId']}/log").text)
        answers.append(http.get(f"/api/workflow/{workflow_id}/tasks").text)
    for name in names:
        query = {"query": f"workflowType = {name}"}
        for path in ("/api/workflow/search", "/api/workflow/search-v2", "/api/tasks/search", "/api/tasks/search-v2"):
            found = http.get(path, params=query)
            assert found.status_code == 200, found.text
            answers.append(found.text)
    answers.append(http.get("/api/v1/webhooks/deliveries").text)
    return answers


def test_a_secret_never_shows_in_a_read_a_log_a_webhook_or_an_error(
    debug_server: ServerProcess, http_target: HttpTarget
) -> None:
    with debug_server.client() as http:
        secret, value = unique("leak"), "never-" + unique("shown")
        assert http.put(f"/api/secrets/{secret}", json=value).status_code == 200
        hook = http.post(
            "/api/v1/webhooks", json={"url": f"{http_target.url}/json/hook", "events": ["workflow.completed"]}
        )
        assert hook.status_code == 201, hook.text

        flow, task_type, failing = unique("leaky"), unique("leaky_work"), unique("leaky_fail")
        register(http, _leaky_flow(flow, task_type, secret, http_target.url))
        register(http, _failing_flow(failing, secret, http_target.url))
        task_defs(http, {"name": task_type, "retryCount": 0})
        workflow_id = start(http, flow, {"note": "no secret here"})
        task = take(http, task_type, timeout_ms=10_000)
        assert task["inputData"] == {"key": value}  # the worker, and only the worker, gets it
        assert http.post(f"/api/tasks/{task['taskId']}/log", json="worked").status_code == 200
        assert complete(http, task, {"ok": True}).status_code == 200
        run = wait_for_status(http, workflow_id, "COMPLETED")
        assert run["output"]["direct"] == "***" and run["variables"] == {"copied": "***"}
        assert run["output"]["echo"]["path"] == "/json/echo?key=***"
        failed = wait_for_status(http, start(http, failing, {}), "FAILED")
        assert "key=***" in failed["tasks"][0]["reasonForIncompletion"]

        deadline = time.monotonic() + 15
        while len(http_target.requests_to("/json/hook")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        delivered = http_target.requests_to("/json/hook")
        assert sorted(d.json()["data"].get("direct", "-") for d in delivered) == ["***", "-"]

        answers = _read_everything(http, [workflow_id, failed["workflowId"]], [flow, failing])
    # The secret went where the workflow sent it: the HTTP task's call, and nowhere else.
    [call] = http_target.requests_to(f"/json/echo?key={value}")
    assert call.headers["Authorization"] == f"Bearer {value}"
    for answer in answers:
        assert value not in answer
    assert all(value.encode() not in d.body for d in delivered)
    debug_server.stop()
    log = debug_server.log()
    assert value not in log


def test_without_a_key_the_routes_answer_503_and_a_task_naming_a_secret_fails(
    server_store: str, tmp_path: Path
) -> None:
    with fresh_database(server_store, tmp_path) as url:
        process = ServerProcess(url, tmp_path / "server.log", env={"BATON_SECRETS_KEY": ""})
        process.start()
        try:
            with process.client() as http:
                for method, path in (("PUT", "/api/secrets/a"), ("GET", "/api/secrets"), ("DELETE", "/api/secrets/a")):
                    answer = http.request(method, path, json="v")
                    assert answer.status_code == 503, answer.text
                    assert "BATON_SECRETS_KEY" in answer.json()["message"]
                flow, task_type = unique("keyless"), unique("keyless_work")
                step = {
                    "name": task_type,
                    "taskReferenceName": "work",
                    "type": "SIMPLE",
                    "inputParameters": {"key": "${workflow.secrets.token}"},
                }
                register(http, {"name": flow, "version": 1, "tasks": [step]})
                workflow_id = start(http, flow, {})
                assert http.get(f"/api/tasks/poll/batch/{task_type}", params={"timeout": 200}).json() == []
                run = wait_for_status(http, workflow_id, "FAILED")
                [task] = run["tasks"]
                assert task["status"] == "FAILED_WITH_TERMINAL_ERROR"
                assert "token" in task["reasonForIncompletion"]
                assert "BATON_SECRETS_KEY" in task["reasonForIncompletion"]
        finally:
            process.stop()


def test_a_key_that_is_not_base64_of_32_bytes_stops_the_start_naming_the_setting(tmp_path: Path) -> None:
    bad = "not-a-real-key-0123456789"
    process = ServerProcess(
        f"sqlite:///{tmp_path / 'baton.db'}", tmp_path / "server.log", env={"BATON_SECRETS_KEY": bad}
    )
    try:
        with pytest.raises(RuntimeError, match="exited early") as failed:
            process.start()
    finally:
        process.stop()  # closes its log
    assert "BATON_SECRETS_KEY" in str(failed.value) and bad not in str(failed.value)


def test_servers_sharing_a_database_share_secrets(two_servers: tuple[ServerProcess, ServerProcess]) -> None:
    first, second = two_servers
    with first.client() as one, second.client() as other:
        secret, value = unique("shared"), "shared-" + unique("value")
        assert one.put(f"/api/secrets/{secret}", json=value).status_code == 200
        assert other.get(f"/api/secrets/{secret}/exists").json() is True
        flow, task_type = unique("shared_flow"), unique("shared_work")
        step = {
            "name": task_type,
            "taskReferenceName": "work",
            "type": "SIMPLE",
            "inputParameters": {"key": f"${{workflow.secrets.{secret}}}"},
        }
        register(one, {"name": flow, "version": 1, "tasks": [step]})
        start(one, flow, {})
        assert take(other, task_type, timeout_ms=5000)["inputData"] == {"key": value}


def test_a_secret_sealed_under_another_key_fails_its_task_saying_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'baton.db'}"
    secret, flow, task_type = unique("rekeyed"), unique("rekeyed_flow"), unique("rekeyed_work")
    first = ServerProcess(url, tmp_path / "first.log")
    first.start()
    try:
        with first.client() as http:
            assert http.put(f"/api/secrets/{secret}", json="sealed-under-the-first-key").status_code == 200
            step = {
                "name": task_type,
                "taskReferenceName": "work",
                "type": "SIMPLE",
                "inputParameters": {"key": f"${{workflow.secrets.{secret}}}"},
            }
            register(http, {"name": flow, "version": 1, "tasks": [step]})
    finally:
        first.stop()
    other_key = base64.b64encode(b"\x07" * 32).decode()
    second = ServerProcess(url, tmp_path / "second.log", env={"BATON_SECRETS_KEY": other_key})
    second.start()
    try:
        with second.client() as http:
            workflow_id = start(http, flow, {})
            assert http.get(f"/api/tasks/poll/batch/{task_type}", params={"timeout": 200}).json() == []
            [task] = wait_for_status(http, workflow_id, "FAILED")["tasks"]
            assert task["status"] == "FAILED_WITH_TERMINAL_ERROR"
            assert secret in task["reasonForIncompletion"] and "cannot be decrypted" in task["reasonForIncompletion"]
    finally:
        second.stop()
