"""Task logs (``POST``/``GET /api/tasks/{taskId}/log``, and a worker result's ``logs``), on both stores."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import poll, register, simple_workflow, start

pytestmark = pytest.mark.timeout(90)


def test_task_logs_from_the_api_and_from_worker_results(client: httpx.Client) -> None:
    register(client, simple_workflow("logged", ["lg", "lg"]))
    workflow_id = start(client, "logged")
    (task,) = poll(client, "lg")
    task_id = task["taskId"]
    assert client.get(f"/api/tasks/{task_id}/log").json() == []

    # Conductor's clients send the line as a JSON string; plain text is taken as it is.
    assert client.post(f"/api/tasks/{task_id}/log", json="first line").status_code == 200
    plain = client.post(f"/api/tasks/{task_id}/log", content="second: ü", headers={"content-type": "text/plain"})
    assert plain.status_code == 200
    result = {
        "taskId": task_id,
        "workflowInstanceId": workflow_id,
        "status": "COMPLETED",
        "logs": [{"log": "from the worker", "createdTime": 123}, {"log": "and more"}],
    }
    assert client.post("/api/tasks/update-v2", json=result).status_code in (200, 204)

    logs = client.get(f"/api/tasks/{task_id}/log").json()
    assert [(entry["log"], entry["taskId"]) for entry in logs] == [
        ("first line", task_id),
        ("second: ü", task_id),
        ("from the worker", task_id),
        ("and more", task_id),
    ]
    assert logs[2]["createdTime"] == 123
    assert all(entry["createdTime"] > 0 for entry in logs)

    assert client.delete(f"/api/workflow/{workflow_id}/remove").status_code == 200
    assert client.get(f"/api/tasks/{task_id}/log").status_code == 404


def test_task_logs_of_an_unknown_task_and_bad_bodies(client: httpx.Client) -> None:
    missing_get = client.get("/api/tasks/no-such-task/log")
    assert missing_get.status_code == 404 and "no-such-task" in missing_get.json()["message"]
    missing_post = client.post("/api/tasks/no-such-task/log", json="line")
    assert missing_post.status_code == 404

    register(client, simple_workflow("log_checked", ["lc"]))
    start(client, "log_checked")
    (task,) = poll(client, "lc")
    for bad in (b"", b"   ", b"\xff\xfe"):
        response = client.post(f"/api/tasks/{task['taskId']}/log", content=bad)
        assert response.status_code == 400, (bad, response.text)
        assert response.json()["validationErrors"][0]["path"] == "body"
    assert client.get(f"/api/tasks/{task['taskId']}/log").json() == []
