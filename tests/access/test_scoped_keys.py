"""Keys limited within their role: a WORKER key polls and updates tasks of its task types only (by type, by task
id, by reference, their logs); a REVIEWER key reads and decides cases of its queues only; an ``authorize: true``
HTTP trigger takes only a key that may START."""

from __future__ import annotations

import httpx
import pytest

from tests.access.helpers import key_headers, make_key
from tests.ballerine.support import business, register_kyb, run_body, start_run
from tests.conftest import ServerProcess
from tests.helpers import SHARED_TLS, register, simple_workflow, unique

pytestmark = pytest.mark.timeout(120)


def test_a_worker_key_works_only_on_its_task_types(server: ServerProcess) -> None:
    mine, other = unique("mine"), unique("other")
    name = unique("scoped")
    with server.client() as admin:
        register(admin, simple_workflow(name, [other, mine]))
        key = make_key(admin, ["WORKER"], taskTypes=[mine])
        run_id = admin.post(f"/api/workflow/{name}", json={}).text
        other_task = admin.get(f"/api/tasks/poll/{other}", params={"workerid": "admin"}).json()
    with httpx.Client(base_url=server.url, headers=key_headers(key), timeout=30.0, verify=SHARED_TLS) as worker:
        refused = worker.get(f"/api/tasks/poll/{other}")
        assert refused.status_code == 403 and mine in refused.json()["message"]
        assert worker.get(f"/api/tasks/poll/batch/{other}").status_code == 403
        result = {"workflowInstanceId": run_id, "taskId": other_task["taskId"], "status": "COMPLETED"}
        assert worker.post("/api/tasks", json=result).status_code == 403
        assert worker.post("/api/tasks/update-v2", json=result).status_code == 403
        assert worker.post(f"/api/tasks/{run_id}/{other}_0/COMPLETED", json={}).status_code == 403
        assert worker.post(f"/api/tasks/{other_task['taskId']}/log", json="line").status_code == 403
        with server.client() as admin:
            assert admin.get(f"/api/workflow/{run_id}").json()["tasks"][0]["status"] == "IN_PROGRESS"
            assert admin.post("/api/tasks", json=result).status_code == 200
        polled = worker.get(f"/api/tasks/poll/{mine}", params={"timeout": 5000})
        assert polled.status_code == 200, polled.text
        task = polled.json()
        assert worker.post(f"/api/tasks/{task['taskId']}/log", json="working").status_code == 200
        done = {"workflowInstanceId": run_id, "taskId": task["taskId"], "status": "COMPLETED"}
        assert worker.post("/api/tasks", json=done).status_code == 200
        assert worker.get(f"/api/workflow/{run_id}").status_code == 403, "a WORKER key reads no runs"
    with server.client() as admin:
        assert admin.get(f"/api/workflow/{run_id}").json()["status"] == "COMPLETED"


def test_a_reviewer_key_decides_cases_of_its_queues_only(server: ServerProcess) -> None:
    with server.client() as admin:
        name, queue, _ = register_kyb(admin)
        run_id = start_run(admin, run_body(name, business(unique("acme"))))["workflowRuntimeId"]
        own = make_key(admin, ["REVIEWER"], queues=[queue])
        elsewhere = make_key(admin, ["REVIEWER"], queues=[unique("queue")])
    assign = f"/api/v1/internal/workflows/assign/{run_id}"
    with httpx.Client(base_url=server.url, timeout=30.0, verify=SHARED_TLS) as client:
        refused = client.patch(assign, json={"assigneeId": "rita"}, headers=key_headers(elsewhere))
        assert refused.status_code == 403 and queue in refused.json()["message"]
        decision = f"/api/v1/internal/workflows/{run_id}/event-decision"
        assert client.patch(decision, json={"name": "approve"}, headers=key_headers(elsewhere)).status_code == 403
        event = f"/api/v1/internal/workflows/{run_id}/event"
        assert client.post(event, json={"name": "x"}, headers=key_headers(elsewhere)).status_code == 403
        assert client.get(f"/api/v1/internal/workflows/{run_id}", headers=key_headers(elsewhere)).status_code == 403
        assert client.get(f"/api/v1/internal/workflows/{run_id}", headers=key_headers(own)).status_code == 200
        listed = {
            who: [
                case["id"] for case in client.get("/api/v1/internal/workflows", headers=key_headers(key)).json()["data"]
            ]
            for who, key in (("own", own), ("elsewhere", elsewhere))
        }
        assert run_id in listed["own"] and run_id not in listed["elsewhere"]
        assigned = client.patch(assign, json={"assigneeId": "rita"}, headers=key_headers(own))
        assert assigned.status_code == 200, assigned.text


def test_an_authorized_trigger_takes_only_a_key_that_may_start(server: ServerProcess) -> None:
    path = unique("guarded")
    name = unique("guarded_flow")
    definition = {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": "endpoint",
                "taskReferenceName": "endpoint",
                "type": "HTTP_ENDPOINT",
                "inputParameters": {"path": path, "methods": ["POST"], "canStartWorkflow": True, "authorize": True},
            },
            {
                "name": "answer",
                "taskReferenceName": "answer",
                "type": "HTTP_RESPONSE",
                "inputParameters": {"statusCode": 201, "content": {"ok": True}},
            },
        ],
    }
    with server.client() as admin:
        register(admin, definition)
        viewer, operator = make_key(admin, ["VIEWER"]), make_key(admin, ["OPERATOR"])
    with httpx.Client(base_url=server.url, timeout=30.0, verify=SHARED_TLS) as client:
        anonymous = client.post(f"/workflows/{path}", json={})
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
        assert (
            client.post(f"/workflows/{path}", json={}, headers={"Authorization": "Bearer nosuch:key"}).status_code
            == 401
        )
        refused = client.post(f"/workflows/{path}", json={}, headers=key_headers(viewer))
        assert refused.status_code == 403 and "OPERATOR" in refused.json()["message"]
        started = client.post(f"/workflows/{path}", json={}, headers=key_headers(operator))
        assert started.status_code == 201, started.text
