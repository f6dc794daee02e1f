"""The audit log through a real server: what each audited use case records, the filters and pages of
``GET /api/audit``, its refusals of bad parameters, and retention."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ballerine.support import business, register_kyb, run_body, start_run
from tests.conftest import STORES, ServerProcess, fresh_database
from tests.helpers import (
    ADMIN_KEY_ID,
    fail_one,
    register,
    simple_workflow,
    start,
    task_defs,
    unique,
    wait_for,
    wait_for_status,
    work_one,
)

pytestmark = pytest.mark.timeout(120)


def audit(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get("/api/audit", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def actions_on(client: httpx.Client, target_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(action, target kind, detail) of each entry on ``target_id``, oldest first."""
    entries = audit(client, targetId=target_id)["results"]
    return [(e["action"], e["targetKind"], e["detail"]) for e in reversed(entries)]


def assert_acted_by_the_test_key(entry: dict[str, Any]) -> None:
    """Requests act as the key they send: the audit names its application and key."""
    assert entry["actor"].endswith(f":{ADMIN_KEY_ID}"), entry


def test_applications_and_keys_made_changed_and_revoked_are_recorded(client: httpx.Client) -> None:
    made = client.post("/api/applications", json={"name": unique("audited"), "roles": ["VIEWER"]})
    assert made.status_code == 200, made.text
    application = made.json()["id"]
    assert client.post(f"/api/applications/{application}/roles/WORKER").status_code == 200
    key = client.post(f"/api/applications/{application}/accessKeys").json()["id"]
    assert client.post(f"/api/applications/{application}/accessKeys/{key}/status").status_code == 200
    assert client.delete(f"/api/applications/{application}/accessKeys/{key}").status_code == 200
    assert [action for action, _, _ in actions_on(client, application)] == ["APPLICATION_CREATED", "ROLE_ADDED"]
    assert actions_on(client, key) == [
        ("KEY_CREATED", "ACCESS_KEY", {"applicationId": application}),
        ("KEY_REVOKED", "ACCESS_KEY", {}),
        ("KEY_DELETED", "ACCESS_KEY", {}),
    ]
    entries = audit(client, targetId=key)["results"]
    assert all(entry["actor"].endswith(f":{ADMIN_KEY_ID}") for entry in entries)
    assert not any("secret" in str(entry["detail"]).lower() for entry in entries)


def test_definitions_registered_and_deleted_are_recorded(client: httpx.Client) -> None:
    task_name, flow = unique("audited_task"), unique("audited_flow")
    task_defs(client, {"name": task_name, "retryCount": 0})
    register(client, simple_workflow(flow, [task_name]))
    assert client.put("/api/metadata/workflow", json=[simple_workflow(flow, [task_name], version=2)]).is_success
    assert client.delete(f"/api/metadata/workflow/{flow}/2").status_code == 200
    assert client.delete(f"/api/metadata/taskdefs/{task_name}").status_code == 200

    assert actions_on(client, flow) == [
        ("WORKFLOW_DEF_REGISTERED", "WORKFLOW_DEF", {"version": 1}),
        ("WORKFLOW_DEF_REGISTERED", "WORKFLOW_DEF", {"version": 2}),
        ("WORKFLOW_DEF_DELETED", "WORKFLOW_DEF", {"version": 2}),
    ]
    assert actions_on(client, task_name) == [
        ("TASK_DEF_REGISTERED", "TASK_DEF", {}),
        ("TASK_DEF_DELETED", "TASK_DEF", {}),
    ]
    entry = audit(client, targetId=flow, limit=1)["results"][0]
    assert_acted_by_the_test_key(entry)
    assert entry["time"] <= int(time.time() * 1000)


def test_a_refused_action_records_nothing(client: httpx.Client) -> None:
    missing = unique("never_registered")
    assert client.delete(f"/api/metadata/workflow/{missing}/1").status_code == 404
    assert client.put(f"/api/workflow/{missing}/pause").status_code == 404
    assert actions_on(client, missing) == []


def test_what_an_operator_does_to_a_run_is_recorded(client: httpx.Client) -> None:
    first, second = unique("op_a"), unique("op_b")
    task_defs(client, {"name": first, "retryCount": 0}, {"name": second, "retryCount": 0})
    flow = unique("operated")
    register(client, simple_workflow(flow, [first, second]))
    run_id = start(client, flow)

    assert client.put(f"/api/workflow/{run_id}/pause").status_code == 200
    assert client.put(f"/api/workflow/{run_id}/resume").status_code == 200
    assert client.put(f"/api/workflow/{run_id}/skiptask/{first}_0", json={}).status_code == 200
    assert client.delete(f"/api/workflow/{run_id}", params={"reason": "enough"}).status_code == 200
    wait_for_status(client, run_id, "TERMINATED")
    assert client.post(f"/api/workflow/{run_id}/restart").is_success
    fail_one(client, first)
    wait_for_status(client, run_id, "FAILED")
    assert client.post(f"/api/workflow/{run_id}/retry").is_success
    work_one(client, first, {})
    work_one(client, second, {})
    wait_for_status(client, run_id, "COMPLETED")
    assert client.post(f"/api/workflow/{run_id}/rerun", json={}).is_success
    assert client.delete(f"/api/workflow/{run_id}/remove").is_success

    assert actions_on(client, run_id) == [
        ("RUN_PAUSED", "RUN", {}),
        ("RUN_RESUMED", "RUN", {}),
        ("TASK_SKIPPED", "RUN", {"taskReferenceName": f"{first}_0"}),
        ("RUN_TERMINATED", "RUN", {"reason": "enough"}),
        ("RUN_RESTARTED", "RUN", {"useLatestDefinitions": False}),
        ("RUN_RETRIED", "RUN", {"resumeSubworkflowTasks": False, "fromParent": False}),
        ("RUN_RERUN", "RUN", {"reRunFromTaskId": None}),
        ("RUN_REMOVED", "RUN", {}),
    ]


def test_each_surfaces_and_the_bulk_forms_terminations_are_recorded(client: httpx.Client) -> None:
    step = unique("bulk_step")
    flow = unique("bulk_audited")
    register(client, simple_workflow(flow, [step]))
    run_ids = [start(client, flow) for _ in range(3)]
    response = client.post("/api/workflow/bulk/terminate", json=run_ids[:2], params={"reason": "bulk"})
    assert response.status_code == 200, response.text
    assert client.post(f"/elsa/api/cancel/workflow-instances/{run_ids[2]}").status_code == 200

    for run_id in run_ids[:2]:
        assert actions_on(client, run_id) == [("RUN_TERMINATED", "RUN", {"reason": "bulk"})]
    assert actions_on(client, run_ids[2]) == [("RUN_TERMINATED", "RUN", {"reason": "Cancelled through Elsa's API"})]


def test_cases_assigned_and_decided_are_recorded(client: httpx.Client) -> None:
    name, _, check = register_kyb(client)
    started = start_run(client, run_body(name, business(unique("acme")), documents=[{"id": "d1", "type": "id"}]))
    run_id = started["workflowRuntimeId"]
    task = client.get(f"/api/tasks/poll/{check}", params={"workerid": "checker"}).json()
    done = {**task, "status": "COMPLETED", "outputData": {"passed": True}}
    assert client.post("/api/tasks", json=done).status_code == 200

    def state() -> str:
        found: str = client.get(f"/api/v1/internal/workflows/{run_id}").json()["state"]
        return found

    wait_for(client, run_id, lambda _: state() == "manual_review")
    cases = "/api/v1/internal/workflows"
    assert client.patch(f"{cases}/assign/{run_id}", json={"assigneeId": "sam"}).status_code == 200
    decided = {"decision": "approve", "reason": "clear"}
    assert client.patch(f"{cases}/{run_id}/decision/d1", json=decided).status_code == 200
    approval = {"name": "approve", "reason": "all good", "reviewer": "rita"}
    assert client.patch(f"{cases}/{run_id}/event-decision", json=approval).status_code == 200

    assert actions_on(client, run_id) == [
        ("CASE_ASSIGNED", "CASE", {"assigneeId": "sam"}),
        ("CASE_DOCUMENT_DECIDED", "CASE", {"documentId": "d1", "decision": "approve", "reason": "clear"}),
        ("CASE_DECIDED", "CASE", {"decision": "approve", "reason": "all good", "reviewer": "rita"}),
    ]


def test_the_log_filters_and_pages_newest_first(client: httpx.Client) -> None:
    names = [unique("paged") for _ in range(5)]
    for name in names:
        task_defs(client, {"name": name, "retryCount": 0})
    since = audit(client, targetId=names[0])["results"][0]["time"]

    seen: list[str] = []
    before = None
    while True:
        params: dict[str, Any] = {"action": "TASK_DEF_REGISTERED", "since": since, "limit": 2}
        if before is not None:
            params["before"] = before
        page = audit(client, **params)
        seen.extend(e["targetId"] for e in page["results"] if e["targetId"] in names)
        assert len(page["results"]) <= 2
        before = page.get("nextBefore")
        if before is None:
            break
    assert seen == list(reversed(names))

    kinds = {e["targetKind"] for e in audit(client, targetKind="TASK_DEF", limit=1000)["results"]}
    assert kinds == {"TASK_DEF"}
    actor = audit(client, targetId=names[0])["results"][0]["actor"]
    assert names[0] in {e["targetId"] for e in audit(client, actor=actor, limit=1000)["results"]}
    assert audit(client, actor=unique("nobody"))["results"] == []
    assert audit(client, targetId=names[0], until=since)["results"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"action": "DANCED"}, "action"),
        ({"targetKind": "PLANET"}, "targetKind"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
        ({"since": "-1"}, "since"),
        ({"until": "soon"}, "until"),
        ({"before": "x"}, "before"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field(client: httpx.Client, params: dict[str, str], field: str) -> None:
    response = client.get("/api/audit", params=params)
    assert response.status_code == 400, response.text
    assert [e["path"] for e in response.json()["validationErrors"]] == [field]


@pytest.mark.parametrize("store", STORES)
def test_retention_deletes_entries_older_than_retention_days(store: str, tmp_path: Path) -> None:
    """An entry is kept ``retention_days``: with about a second's retention, an entry recorded before is gone
    after the next pass, and one recorded after is still there."""
    with fresh_database(store, tmp_path) as url:
        env = {"BATON_RETENTION_DAYS": str(1.5 / 86_400), "BATON_RETENTION_INTERVAL_MS": "200"}
        process = ServerProcess(url, tmp_path / "server.log", env=env)
        process.start()
        try:
            with process.client() as client:
                old = unique("old_def")
                task_defs(client, {"name": old, "retryCount": 0})
                assert len(audit(client, targetId=old)["results"]) == 1
                deadline = time.monotonic() + 20
                while audit(client, targetId=old)["results"] and time.monotonic() < deadline:
                    time.sleep(0.2)
                assert audit(client, targetId=old)["results"] == []
                new = unique("new_def")
                task_defs(client, {"name": new, "retryCount": 0})
                assert len(audit(client, targetId=new)["results"]) == 1
        finally:
            process.stop()


def test_secrets_put_and_deleted_are_recorded_without_their_values(client: httpx.Client) -> None:
    name = unique("audited_secret")
    assert client.put(f"/api/secrets/{name}", json="s3cr3t-value").status_code == 200
    assert client.delete(f"/api/secrets/{name}").status_code == 200
    assert actions_on(client, name) == [("SECRET_PUT", "SECRET", {}), ("SECRET_DELETED", "SECRET", {})]
    assert "s3cr3t-value" not in str(audit(client, targetId=name))
