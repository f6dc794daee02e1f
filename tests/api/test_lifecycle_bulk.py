"""The bulk forms under ``/api/workflow/bulk``, over HTTP against a real server, on both stores."""

from __future__ import annotations

import httpx
import pytest

from tests.helpers import complete, poll, register, run_of, simple_workflow, start, wait_for_status

pytestmark = pytest.mark.timeout(90)


def test_bulk_operations_report_each_id(client: httpx.Client) -> None:
    register(client, simple_workflow("bulky", ["bk"]))
    first, second = start(client, "bulky"), start(client, "bulky")

    paused = client.put("/api/workflow/bulk/pause", json=[first, second, "no-such-run"])

    assert paused.status_code == 200, paused.text
    body = paused.json()
    assert body["bulkSuccessfulResults"] == [first, second]
    assert list(body["bulkErrorResults"]) == ["no-such-run"]
    assert "no-such-run" in body["bulkErrorResults"]["no-such-run"]
    assert {run_of(client, w)["status"] for w in (first, second)} == {"PAUSED"}

    resumed = client.put("/api/workflow/bulk/resume", json=[first, first]).json()
    assert resumed == {"bulkErrorResults": {}, "bulkSuccessfulResults": [first]}
    again = client.put("/api/workflow/bulk/resume", json=[first, second]).json()
    assert again["bulkSuccessfulResults"] == [second]
    assert "RUNNING" in again["bulkErrorResults"][first]

    terminated = client.post("/api/workflow/bulk/terminate", params={"reason": "bulk stop"}, json=[first, second])
    assert terminated.json()["bulkSuccessfulResults"] == [first, second]
    ended = run_of(client, first)
    assert (ended["status"], ended["reasonForIncompletion"]) == ("TERMINATED", "bulk stop")

    retried = client.post("/api/workflow/bulk/retry", json=[first]).json()
    assert retried["bulkSuccessfulResults"] == [first]
    assert run_of(client, first)["status"] == "RUNNING"

    restarted = client.post("/api/workflow/bulk/restart", json=[first, second]).json()
    assert restarted["bulkSuccessfulResults"] == [second]
    assert "RUNNING" in restarted["bulkErrorResults"][first]
    for task in poll(client, "bk", count=5):
        assert complete(client, task).status_code == 200
    wait_for_status(client, first, "COMPLETED")
    wait_for_status(client, second, "COMPLETED")


BULK_ROUTES = [
    ("PUT", "/api/workflow/bulk/pause"),
    ("PUT", "/api/workflow/bulk/resume"),
    ("POST", "/api/workflow/bulk/restart"),
    ("POST", "/api/workflow/bulk/retry"),
    ("POST", "/api/workflow/bulk/terminate"),
]


def test_bulk_bodies_are_checked_and_change_nothing(client: httpx.Client) -> None:
    register(client, simple_workflow("bulk_checked", ["bc"]))
    workflow_id = start(client, "bulk_checked")

    for method, path in BULK_ROUTES:
        too_many = client.request(method, path, json=[workflow_id] * 1001)
        assert too_many.status_code == 400, path
        assert "1000" in too_many.json()["message"] and too_many.json()["validationErrors"][0]["path"] == "body"
        for bad, field in [
            (b"", "body"),
            (b"{}", "body"),
            (b"[not json", "body"),
            (b"[]", "body"),
            (b'["ok", 2]', "body[1]"),
            (b'[""]', "body[0]"),
        ]:
            response = client.request(method, path, content=bad, headers={"content-type": "application/json"})
            assert response.status_code == 400, (path, bad, response.text)
            assert response.json()["validationErrors"][0]["path"] == field, (path, bad)

    run = run_of(client, workflow_id)
    assert run["status"] == "RUNNING" and len(run["tasks"]) == 1
