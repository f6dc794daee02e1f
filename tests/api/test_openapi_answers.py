"""Real answers, from a run's whole life through every area of the API, are what the document says.

Schemathesis (``test_openapi_schemathesis.py``) mostly reaches the error answers: the ids it makes
up name nothing. Here a client whose every response is checked against the document (its status
documented for the operation, its content type, and its JSON body against the documented schema)
registers definitions, starts runs, works their tasks, searches, and runs an operator's operations.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx
import jsonschema
import pytest

from baton.api.openapi import document
from tests.conftest import ServerProcess
from tests.helpers import simple_workflow, unique

_PARAMETER = re.compile(r"\{[^}]+\}")


@cache
def _templates() -> list[tuple[re.Pattern[str], str]]:
    """Each documented path as a pattern; literal paths before those with more parameters in the same places."""
    paths = sorted(document()["paths"], key=lambda path: (path.count("{"), path))
    return [
        (re.compile("^" + _PARAMETER.sub("[^/]+", re.escape(path).replace(r"\{", "{").replace(r"\}", "}")) + "$"), path)
        for path in paths
    ]


def documented_operation(method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The documented path and operation that serve ``method path``, as the server picks them (literal first)."""
    for pattern, template in _templates():
        operations = document()["paths"][template]
        if pattern.match(path) and method.lower() in operations:
            return template, operations[method.lower()]
    raise AssertionError(f"{method} {path}: no documented operation")


def check_answer(method: str, path: str, status: int, content_type: str | None, body: bytes) -> None:
    """Fails unless the answer's status, content type and body are the documented ones."""
    template, operation = documented_operation(method, path)
    doc = document()
    declared = operation["responses"].get(str(status))
    assert declared is not None, f"{method} {template}: {status} is not documented ({body[:200]!r})"
    if "$ref" in declared:
        declared = doc["components"]["responses"][declared["$ref"].rsplit("/", 1)[-1]]
    content = declared.get("content")
    if content is None:
        assert not body, f"{method} {template} {status}: a body where none is documented: {body[:200]!r}"
        return
    assert content_type is not None, f"{method} {template} {status}: no content type"
    media = content_type.split(";")[0].strip()
    assert media in content, f"{method} {template} {status}: {media} is not documented"
    if media == "application/json":
        schema = {**content[media]["schema"], "components": doc["components"]}
        try:
            jsonschema.validate(httpx.Response(200, content=body).json(), schema)
        except jsonschema.ValidationError as exc:
            raise AssertionError(f"{method} {template} {status}: {exc.message} at {list(exc.absolute_path)}") from None


def _check(response: httpx.Response) -> None:
    response.read()
    request = response.request
    check_answer(
        request.method, request.url.path, response.status_code, response.headers.get("content-type"), response.content
    )


@pytest.fixture
def checked(server: ServerProcess) -> Iterator[httpx.Client]:
    """The server's client; every answer it gets is checked against the document."""
    with server.client(event_hooks={"response": [_check]}) as http:
        yield http


def test_a_wrong_answer_is_caught() -> None:
    """The checks can fail: an undocumented status, a body of the wrong shape, a body where none is documented."""
    run = b'{"workflowId": "r1", "workflowName": "w", "workflowVersion": 1, "status": "RUNNING"}'
    check_answer("GET", "/api/workflow/r1", 200, "application/json", run)
    check_answer("GET", "/api/workflow/search", 200, "application/json", b'{"totalHits": 0, "results": []}')
    wrong = [
        ("GET", "/api/workflow/r1", 201, "application/json", run),
        ("GET", "/api/workflow/r1", 200, "application/json", b'{"workflowId": "r1"}'),
        ("GET", "/api/workflow/r1", 200, "application/json", run.replace(b"RUNNING", b"SLEEPING")),
        ("GET", "/api/workflow/r1", 200, "text/plain", b"r1"),
        ("PUT", "/api/workflow/r1/pause", 200, "application/json", b"{}"),
        ("GET", "/api/workflow/r1", 404, "application/json", b'{"message": "gone"}'),
        ("GET", "/api/workflow/search", 200, "application/json", b'{"totalHits": 0, "results": [{}]}'),
    ]
    for method, path, status, media, body in wrong:
        with pytest.raises(AssertionError):
            check_answer(method, path, status, media, body)


def test_a_runs_life_answers_as_documented(checked: httpx.Client) -> None:
    http = checked
    work, name = unique("openapi_work"), unique("openapi_flow")
    assert http.post("/api/metadata/taskdefs", json=[{"name": work, "retryCount": 0}]).status_code == 200
    assert http.put("/api/metadata/taskdefs", json={"name": work, "retryCount": 0}).status_code == 200
    assert http.get(f"/api/metadata/taskdefs/{work}").json()["name"] == work
    assert http.get("/api/metadata/taskdefs").status_code == 200
    definition = simple_workflow(name, [work, work], outputParameters={"x": "${workflow.input.x}"})
    assert http.post("/api/metadata/workflow", json=definition).status_code == 200
    assert http.post("/api/metadata/workflow", json=definition).status_code == 409
    assert http.put("/api/metadata/workflow", json=[definition]).json() == {"status": "OK", "count": 1}
    assert http.get(f"/api/metadata/workflow/{name}", params={"version": 1}).json()["name"] == name
    assert http.get("/api/metadata/workflow").status_code == 200

    first = http.post(f"/api/workflow/{name}", json={"x": 1}, params={"correlationId": "c1"}).text
    second = http.post("/api/workflow", json={"name": name, "input": {"x": 2}, "correlationId": "c1"}).text
    assert http.get(f"/api/workflow/{first}").json()["workflowType"] == name
    assert http.get(f"/api/workflow/{first}", params={"includeTasks": "false"}).status_code == 200
    assert http.get(f"/api/workflow/{first}/status").json()["status"] == "RUNNING"
    assert http.get(f"/api/workflow/{first}/tasks", params={"status": "SCHEDULED"}).json()["totalHits"] == 1
    assert len(http.get(f"/api/workflow/{name}/correlated/c1", params={"includeTasks": "true"}).json()) == 2
    assert sorted(http.get(f"/api/workflow/running/{name}").json()) == sorted([first, second])
    assert http.get("/api/tasks/queue/sizes", params={"taskType": work}).json() == {work: 2}

    tasks = http.get(f"/api/tasks/poll/batch/{work}", params={"count": 2, "timeout": 2000}).json()
    assert len(tasks) == 2
    task = next(task for task in tasks if task["workflowInstanceId"] == first)
    other = next(task for task in tasks if task["workflowInstanceId"] == second)
    assert http.get(f"/api/tasks/{task['taskId']}").json()["status"] == "IN_PROGRESS"
    assert http.post(f"/api/tasks/{task['taskId']}/log", json="a line").status_code == 200
    assert http.get(f"/api/tasks/{task['taskId']}/log").json()[0]["log"] == "a line"
    result = {"taskId": task["taskId"], "workflowInstanceId": first, "status": "COMPLETED", "outputData": {"a": 1}}
    following = http.post("/api/tasks/update-v2", json=result)
    assert following.status_code == 200, "the run's second step is handed out at once"
    done = {**result, "taskId": following.json()["taskId"]}
    assert http.post("/api/tasks", json=done).text == done["taskId"]
    assert http.post("/api/tasks", json=done).status_code in (200, 409)
    assert http.get(f"/api/tasks/poll/{work}").status_code == 204

    query = {"query": f"workflowType = {name}", "size": 5}
    assert http.get("/api/workflow/search", params=query).json()["totalHits"] == 2
    assert http.get("/api/workflow/search-v2", params=query).json()["totalHits"] == 2
    assert http.get("/api/tasks/search", params={"freeText": first}).status_code == 200
    assert http.get("/api/tasks/search-v2", params={"query": f"taskType = {work}"}).status_code == 200

    assert http.put(f"/api/workflow/{second}/pause").status_code == 200
    assert http.put(f"/api/workflow/{second}/pause").status_code in (200, 409)
    assert http.put(f"/api/workflow/{second}/resume").status_code == 200
    bulk = http.put("/api/workflow/bulk/pause", json=[second, "no-such-run"]).json()
    assert bulk["bulkSuccessfulResults"] == [second]
    assert http.put("/api/workflow/bulk/resume", json=[second]).status_code == 200
    fail = {"taskId": other["taskId"], "workflowInstanceId": second, "status": "FAILED", "reasonForIncompletion": "x"}
    assert http.post("/api/tasks", json=fail).status_code == 200
    assert http.get(f"/api/workflow/{second}/status").json()["status"] == "FAILED"
    assert http.post(f"/api/workflow/{second}/retry").status_code == 204
    assert http.post("/api/workflow/bulk/terminate", json=[second], params={"reason": "r"}).status_code == 200
    assert http.post(f"/api/workflow/{second}/restart").status_code == 204
    assert http.post(f"/api/workflow/{second}/variables", json={"v": 1}).json()["variables"] == {"v": 1}
    ref = f"{work}_0"
    assert http.put(f"/api/workflow/{second}/skiptask/{ref}", json={"taskOutput": {"s": 1}}).status_code in (200, 409)
    assert http.put(f"/api/workflow/decide/{second}").status_code == 200
    assert http.delete(f"/api/workflow/{second}", params={"reason": "done"}).status_code == 200
    assert http.post(f"/api/workflow/{second}/rerun", json={}).text == second
    assert http.post("/api/workflow/bulk/restart", json=[first]).json()["bulkSuccessfulResults"] == [first]
    assert http.post("/api/workflow/bulk/retry", json=[first]).status_code == 200
    by_ref = http.post(f"/api/tasks/{first}/{ref}/completed", json={"r": 1}, params={"workerid": "w"})
    assert by_ref.status_code == 200

    running = http.post(f"/api/workflow/execute/{name}", json={"x": 3}, params={"waitForSeconds": 0})
    assert running.status_code == 206
    assert running.json()["requestId"]
    assert http.post(f"/api/workflow/execute/{name}/1", json={"input": {"x": 4}}, params={"waitForSeconds": 0})

    assert http.get("/api/workflow/no-such-run").status_code == 404
    assert http.get("/api/tasks/poll/batch/x", params={"count": 0}).status_code == 400
    assert http.delete(f"/api/workflow/{second}/remove").status_code == 200
    assert http.delete(f"/api/metadata/workflow/{name}/1").status_code == 200
    assert http.delete(f"/api/metadata/taskdefs/{work}").status_code == 200
    assert http.get("/health").json() == {"healthy": True}
    assert http.get("/api-docs").status_code == 200
