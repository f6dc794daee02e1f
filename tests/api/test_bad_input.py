"""A client's mistakes (or attacks) against a real ``baton serve`` on both stores: every one is a 4xx naming the
field at fault, nothing is stored, and the server keeps answering.

Deep JSON, deep search queries, numbers out of range, NUL and control characters in names, keys, paths and
bodies, bodies that never finish and clients that leave halfway.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from baton.store.testing import create_test_database, release_test_database
from tests.conftest import STORES, ServerProcess
from tests.helpers import ADMIN_HEADER_LINES, poll, register, simple_workflow, start

pytestmark = pytest.mark.timeout(120)

BIG = "99999999999999999999999"


@pytest.fixture(scope="module", params=STORES)
def hostile(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One server per store for the module: each test uses names of its own."""
    folder = tmp_path_factory.mktemp(f"bad_input_{request.param}")
    url = f"sqlite:///{folder / 'baton.db'}" if request.param == "sqlite" else create_test_database()
    server = ServerProcess(url, folder / "server.log", ["--body-read-timeout-ms", "1000"])
    server.start()
    try:
        yield server
    finally:
        server.stop()
        if request.param != "sqlite":
            release_test_database(url)


@pytest.fixture
def api(hostile: ServerProcess) -> Iterator[httpx.Client]:
    with hostile.client(timeout=30.0) as client:
        yield client


def refused(response: httpx.Response, path: str, message_part: str, status: int = 400) -> None:
    """A 4xx in Conductor's error shape whose validationErrors name ``path``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status"] == status
    assert body["retryable"] is False
    errors = {e["path"]: e["message"] for e in body["validationErrors"]}
    assert path in errors, body
    assert message_part in errors[path], body


def nested(depth: int) -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    return value


def run_count(client: httpx.Client, name: str) -> int:
    response = client.get("/api/workflow/search", params={"query": f"workflowType = {name}"})
    assert response.status_code == 200, response.text
    total: int = response.json()["totalHits"]
    return total


def registered_workflow(client: httpx.Client, name: str) -> None:
    register(client, simple_workflow(name, [f"{name}_step"]))


# -- depth ---------------------------------------------------------------------------------------------------


def test_json_nested_deeper_than_the_bound_is_a_400_on_every_body(api: httpx.Client) -> None:
    registered_workflow(api, "deep_wf")
    deep = "[" * 1000 + "]" * 1000
    just_over = nested(128)  # inside a body's top-level object: 129 levels
    for method, path in [
        ("POST", "/api/metadata/workflow"),
        ("PUT", "/api/metadata/workflow"),
        ("POST", "/api/metadata/taskdefs"),
        ("POST", "/api/workflow/deep_wf"),
        ("POST", "/api/workflow"),
        ("POST", "/api/workflow/execute/deep_wf"),
        ("POST", "/api/tasks"),
        ("POST", "/api/tasks/update-v2"),
        ("POST", "/api/workflow/bulk/terminate"),
    ]:
        refused(api.request(method, path, content=deep), "body", "nested deeper than 128 levels")
        refused(api.request(method, path, json={"input": just_over}), "body", "nested deeper than 128 levels")
    assert run_count(api, "deep_wf") == 0
    workflow_id = start(api, "deep_wf")
    refused(api.post(f"/api/workflow/{workflow_id}/variables", json={"v": just_over}), "body", "nested deeper")
    # This parameter is read only when it is JSON and ignored otherwise (see workflows.skip_task): too deep too.
    skipped = api.put(f"/api/workflow/{workflow_id}/skiptask/deep_wf_step_0", params={"skipTaskRequest": deep})
    assert skipped.status_code == 200, skipped.text
    # Brackets inside strings are not nesting; exactly 128 levels is accepted.
    fine = start(api, "deep_wf", {"text": "[" * 5000, "at_the_bound": nested(127)})
    run = api.get(f"/api/workflow/{fine}").json()
    assert run["input"]["at_the_bound"] == nested(127)


def test_a_search_query_nested_too_deep_is_a_400_naming_query(api: httpx.Client) -> None:
    for path in ("/api/workflow/search", "/api/workflow/search-v2", "/api/tasks/search"):
        deep = "(" * 500 + "status = FAILED" + ")" * 500
        refused(api.get(path, params={"query": deep}), "query", "nests parentheses deeper than 32 levels")
        at_bound = "(" * 32 + "status = FAILED" + ")" * 32
        assert api.get(path, params={"query": at_bound}).status_code == 200
        refused(api.get(path, params={"freeText": "word " * 1500}), "freeText", "is longer than 4096")
        refused(api.get(path, params={"freeText": "w " * 40}), "freeText", "more than 32 words")
        assert api.get(path, params={"sort": "startTime," * 3000}).status_code == 200


# -- numbers -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "params", "field", "message"),
    [
        ("GET", "/api/workflow/search", {"start": "1e30"}, "start", "must be a whole number"),
        ("GET", "/api/workflow/search", {"start": BIG}, "start", "must be between"),
        ("GET", "/api/workflow/search", {"start": "1_000"}, "start", "must be a whole number"),
        ("GET", "/api/workflow/search", {"size": BIG}, "size", "must be between"),
        ("GET", "/api/workflow/search-v2", {"start": "٣"}, "start", "must be a whole number"),
        ("GET", "/api/tasks/search", {"size": "-" + BIG}, "size", "must be between"),
        ("GET", "/api/tasks/search-v2", {"start": "9" * 5000}, "start", "must be between"),
        ("GET", "/api/workflow/running/x", {"version": BIG}, "version", "must be between"),
        ("GET", "/api/workflow/running/x", {"startTime": BIG}, "startTime", "must be between"),
        ("GET", "/api/workflow/running/x", {"endTime": "soon"}, "endTime", "must be a whole number"),
        ("GET", "/api/metadata/workflow/x", {"version": BIG}, "version", "must be between"),
        ("GET", "/api/tasks/poll/batch/x", {"count": BIG}, "count", "must be between"),
        ("GET", "/api/tasks/poll/batch/x", {"timeout": BIG}, "timeout", "must be between"),
        ("POST", "/api/workflow/x", {"version": BIG}, "version", "must be between"),
        ("POST", "/api/workflow/x", {"priority": BIG}, "priority", "must be between"),
        ("POST", "/api/workflow/execute/x", {"waitForSeconds": "nan"}, "waitForSeconds", "finite"),
        ("POST", "/api/workflow/execute/x", {"waitForSeconds": "inf"}, "waitForSeconds", "finite"),
        ("POST", "/api/workflow/execute/x", {"priority": BIG}, "priority", "must be between"),
    ],
)
def test_a_number_parameter_out_of_range_or_not_whole_is_a_400_naming_it(
    api: httpx.Client, method: str, path: str, params: dict[str, str], field: str, message: str
) -> None:
    refused(api.request(method, path, params=params, json={} if method == "POST" else None), field, message)


def test_numbers_in_paths_and_bodies_out_of_range_are_400s(api: httpx.Client) -> None:
    registered_workflow(api, "num_wf")
    refused(api.post(f"/api/workflow/execute/num_wf/{BIG}", json={}), "version", "must be between")
    refused(api.delete(f"/api/metadata/workflow/num_wf/{BIG}"), "version", "must be between")
    refused(api.post("/api/workflow", json={"name": "num_wf", "version": int(BIG)}), "version", "at most")
    refused(
        api.post("/api/metadata/workflow", json={**simple_workflow("num_wf2", ["s"]), "version": int(BIG)}),
        "version",
        "at most 2147483647",
    )
    refused(api.post("/api/metadata/taskdefs", json=[{"name": "big", "retryCount": 2**40}]), "retryCount", "at most")
    assert api.get("/api/metadata/workflow/num_wf2").status_code == 404
    assert api.get("/api/metadata/taskdefs/big").status_code == 404
    workflow_id = start(api, "num_wf")
    [task] = poll(api, "num_wf_step")
    result = {"taskId": task["taskId"], "workflowInstanceId": workflow_id, "status": "IN_PROGRESS"}
    refused(api.post("/api/tasks", json={**result, "callbackAfterSeconds": 2**40}), "callbackAfterSeconds", "at most")
    assert api.get(f"/api/tasks/{task['taskId']}").json()["status"] == "IN_PROGRESS"
    assert run_count(api, "num_wf") == 1


# -- names, keys and NUL -------------------------------------------------------------------------------------


def test_every_kind_of_name_follows_one_rule(api: httpx.Client) -> None:
    def workflow(**task: Any) -> dict[str, Any]:
        return {"name": "names_wf", "tasks": [{"name": "t", "taskReferenceName": "t", "type": "SIMPLE", **task}]}

    refused(api.post("/api/metadata/workflow", json={**workflow(), "name": "w\u0000"}), "name", "")
    refused(api.post("/api/metadata/workflow", json={**workflow(), "name": "w" * 256}), "name", "at most 255")
    refused(api.post("/api/metadata/workflow", json=workflow(name="a\nb")), "tasks[0].name", "U+000A")
    refused(api.post("/api/metadata/workflow", json=workflow(name="x" * 256)), "tasks[0].name", "at most 255")
    refused(
        api.post("/api/metadata/workflow", json=workflow(taskReferenceName="r\u0001")),
        "tasks[0].taskReferenceName",
        "control characters (U+0001 at 1)",
    )
    refused(api.post("/api/metadata/workflow", json=workflow(taskReferenceName=" ")), "tasks[0].taskReferenceName", "")
    sub = {"type": "SUB_WORKFLOW", "subWorkflowParam": {"name": "c\u007f"}}
    refused(api.post("/api/metadata/workflow", json=workflow(**sub)), "tasks[0].subWorkflowParam.name", "U+007F")
    refused(
        api.post("/api/metadata/taskdefs", json=[{"name": "fine"}, {"name": "bad\u0000"}]),
        "[1].name",
        "NUL",
    )
    refused(api.post("/api/metadata/taskdefs", json=[{"name": "tab\there"}]), "name", "U+0009")
    refused(api.post("/api/metadata/taskdefs", json=[{"name": "é" * 256}]), "name", "at most 255")
    refused(api.put("/api/metadata/taskdefs", json={"name": "é" * 256}), "name", "at most 255")
    assert api.get("/api/metadata/workflow/names_wf").status_code == 404
    assert api.get("/api/metadata/taskdefs/fine").status_code == 404
    inline = {"name": "inline_wf", "workflowDef": {**workflow(name="t\u0002"), "name": "inline_wf"}}
    refused(api.post("/api/workflow", json=inline), "workflowDef.tasks[0].name", "U+0002")
    # 255 characters of four UTF-8 bytes each still fit PostgreSQL's index entries, with a key as long.
    long_name = "😀" * 255
    assert api.post("/api/metadata/taskdefs", json=[{"name": long_name}]).status_code == 200
    assert api.get(f"/api/metadata/taskdefs/{long_name}").json()["name"] == long_name
    registered_workflow(api, "keys_wf")
    assert start(api, "keys_wf", correlationId="😀" * 255)


def test_keys_a_client_chooses_follow_the_rule_too(api: httpx.Client) -> None:
    registered_workflow(api, "keyed_wf")
    refused(api.post("/api/workflow", json={"name": "keyed_wf", "correlationId": "é" * 256}), "correlationId", "255")
    refused(api.post("/api/workflow", json={"name": "keyed_wf", "correlationId": "a\tb"}), "correlationId", "U+0009")
    refused(api.post("/api/workflow/keyed_wf", json={}, headers={"X-Idempotency-key": "k" * 300}), "idempotencyKey", "")
    refused(api.post("/api/workflow", json={"name": "keyed_wf", "idempotencyKey": "k\u001b"}), "idempotencyKey", "")
    assert run_count(api, "keyed_wf") == 0


def test_a_nul_anywhere_in_a_body_is_a_400_naming_where(api: httpx.Client) -> None:
    registered_workflow(api, "nul_wf")
    refused(api.post("/api/workflow/nul_wf", json={"a": {"b": ["x", "y\u0000"]}}), "a.b[1]", "NUL")
    refused(api.post("/api/workflow/nul_wf", json={"k\u0000": 1}), "k\\u0000", "NUL")
    refused(api.post("/api/workflow", json={"name": "nul_wf", "input": {"x": "\u0000"}}), "input.x", "NUL")
    assert run_count(api, "nul_wf") == 0
    # An escaped backslash before "u0000" is not a NUL.
    literal = start(api, "nul_wf", {"text": "\\u0000"})
    assert api.get(f"/api/workflow/{literal}").json()["input"]["text"] == "\\u0000"
    [task] = poll(api, "nul_wf_step")
    result = {"taskId": task["taskId"], "workflowInstanceId": literal, "status": "FAILED"}
    refused(api.post("/api/tasks", json={**result, "reasonForIncompletion": "x\u0000"}), "reasonForIncompletion", "")
    refused(api.post("/api/tasks", json={**result, "outputData": {"o": "\u0000"}}), "outputData.o", "NUL")
    refused(api.post("/api/tasks", json={**result, "logs": [{"log": "\u0000"}]}), "logs[0].log", "NUL")
    refused(api.post(f"/api/tasks/{task['taskId']}/log", content=b"plain \x00 text"), "body", "NUL")
    refused(api.post(f"/api/tasks/{task['taskId']}/log", json="json \u0000 text"), "body", "NUL")
    assert api.get(f"/api/tasks/{task['taskId']}").json()["status"] == "IN_PROGRESS"
    assert api.get(f"/api/tasks/{task['taskId']}/log").json() == []


def test_control_characters_in_a_path_or_nul_in_a_query_parameter_are_400s(api: httpx.Client) -> None:
    registered_workflow(api, "path_wf")
    for path in [
        "/api/tasks/poll/batch/a%00b",
        "/api/tasks/poll/a%00b",
        "/api/workflow/a%00b",
        "/api/metadata/workflow/a%0Ab",
        "/api/metadata/taskdefs/a%00b",
        "/api/workflow/path_wf/correlated/a%00b",
        "/api/workflow/running/a%1Fb",
    ]:
        refused(api.get(path), "path", "control characters")
    refused(api.post("/api/workflow/path_wf?correlationId=a%00b", json={}), "correlationId", "NUL")
    refused(api.get("/api/workflow/search?freeText=%00"), "freeText", "NUL")
    refused(api.get("/api/workflow/search?query=workflowId%3D%27%00%27"), "query", "NUL")
    refused(api.delete("/api/workflow/x?reason=%00"), "reason", "NUL")
    assert run_count(api, "path_wf") == 0


# -- connections ---------------------------------------------------------------------------------------------


def _half_sent(port: int, content_length: int = 1000) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(
        b"POST /api/workflow/half HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"{ADMIN_HEADER_LINES}Content-Length: {content_length}\r\n\r\n".encode()
        + b'{"a": '
    )
    return sock


def test_a_body_that_never_finishes_gets_408_and_the_connection_is_closed(hostile: ServerProcess) -> None:
    sock = _half_sent(hostile.port)
    sock.settimeout(30)
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer
    assert b"connection: close" in head.lower()
    assert b"body: did not arrive within 1000 ms" in body
    assert httpx.get(f"{hostile.url}/health").status_code == 200


def test_clients_that_leave_mid_body_log_no_tracebacks(store_url: str, tmp_path: Path) -> None:
    server = ServerProcess(store_url, tmp_path / "server.log", ["--log-level", "info"])
    server.start()
    try:
        before = server.log()
        for _ in range(100):
            _half_sent(server.port).close()
        time.sleep(0.5)  # lets the server see every close before its log is read
        assert httpx.get(f"{server.url}/health").status_code == 200
        written = server.log()[len(before) :]
    finally:
        server.stop()
    assert "Traceback" not in written
    assert "went away" not in written  # one debug line each; none at info
    assert written.count("\n") <= 1, written


# -- names a workflow computes ---------------------------------------------------------------------------------


def test_a_name_computed_at_run_time_with_a_nul_fails_its_task_not_the_server(api: httpx.Client) -> None:
    """A script's value can hold what a request body may not: the step it names fails, nothing is a 5xx."""
    register(
        api,
        {
            "name": "computed_names",
            "tasks": [
                {
                    "name": "make",
                    "taskReferenceName": "make",
                    "type": "INLINE",
                    "inputParameters": {
                        "evaluatorType": "javascript",
                        "expression": "'worker' + String.fromCharCode(0) + $.kind",
                        "kind": "${workflow.input.kind}",
                    },
                },
                {
                    "name": "pick",
                    "taskReferenceName": "pick",
                    "type": "DYNAMIC",
                    "dynamicTaskNameParam": "taskToRun",
                    "inputParameters": {"taskToRun": "${make.output.result}"},
                },
            ],
        },
    )
    workflow_id = start(api, "computed_names", {"kind": "a"})
    run = api.get(f"/api/workflow/{workflow_id}").json()
    assert run["status"] == "FAILED", run
    pick = next(task for task in run["tasks"] if task["referenceTaskName"] == "pick")
    assert "must not hold control characters" in pick["reasonForIncompletion"]
    register(
        api,
        {
            "name": "computed_branches",
            "tasks": [
                {
                    "name": "make",
                    "taskReferenceName": "make",
                    "type": "INLINE",
                    "inputParameters": {
                        "evaluatorType": "javascript",
                        "expression": "({tasks: [{name: 'w', taskReferenceName: 'b' + String.fromCharCode(0)}],"
                        " inputs: {}})",
                    },
                },
                {
                    "name": "fan",
                    "taskReferenceName": "fan",
                    "type": "FORK_JOIN_DYNAMIC",
                    "dynamicForkTasksParam": "tasks",
                    "dynamicForkTasksInputParamName": "inputs",
                    "inputParameters": {
                        "tasks": "${make.output.result.tasks}",
                        "inputs": "${make.output.result.inputs}",
                    },
                },
                {"name": "join", "taskReferenceName": "join", "type": "JOIN"},
            ],
        },
    )
    workflow_id = start(api, "computed_branches")
    run = api.get(f"/api/workflow/{workflow_id}").json()
    assert run["status"] == "FAILED", run
    fan = next(task for task in run["tasks"] if task["referenceTaskName"] == "fan")
    assert "taskReferenceName" in fan["reasonForIncompletion"]
    assert "control characters" in fan["reasonForIncompletion"]
