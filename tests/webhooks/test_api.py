"""``/api/v1/webhooks`` on a real ``baton serve`` of each store: subscriptions, deliveries, redelivery."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.helpers import register, start, unique
from tests.webhooks.conftest import SERVER_SECRET
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.timeout(60)


def _flow(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "version": 1,
        "schemaVersion": 2,
        "tasks": [{"name": "review", "taskReferenceName": "review", "type": "WAIT"}],
    }


def _run_to_end(http: httpx.Client, entity: str) -> str:
    name = unique("hooked")
    register(http, _flow(name))
    workflow_id = start(http, name, {"entity": {"type": "business", "id": entity}}, correlationId=f"c-{entity}")
    done = http.post(f"/api/tasks/{workflow_id}/review/COMPLETED", json={"checked": True})
    assert done.status_code == 200, done.text
    return workflow_id


def _subscribe(http: httpx.Client, url: str, **extra: Any) -> dict[str, Any]:
    created = http.post("/api/v1/webhooks", json={"url": url, "events": ["workflow.completed"], **extra})
    assert created.status_code == 201, created.text
    webhook: dict[str, Any] = created.json()
    return webhook


def _deliveries(http: httpx.Client, **params: str) -> list[dict[str, Any]]:
    answer = http.get("/api/v1/webhooks/deliveries", params=params)
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


def _until_status(http: httpx.Client, workflow_id: str, status: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _deliveries(http, status=status, workflowRuntimeId=workflow_id)
        if found:
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no {status} delivery of {workflow_id}: {_deliveries(http, workflowRuntimeId=workflow_id)}")


def test_subscriptions_are_created_read_replaced_and_deleted(http: httpx.Client) -> None:
    hook_id = unique("crud")
    body = {"id": hook_id, "url": "https://example.invalid/h", "events": ["workflow.state.changed"], "secret": "s"}
    created = http.post("/api/v1/webhooks", json=body)
    assert created.status_code == 201, created.text
    shown = created.json()
    assert shown["id"] == hook_id and shown["hasSecret"] is True and shown["enabled"] is True
    assert "secret" not in shown
    assert http.post("/api/v1/webhooks", json=body).status_code == 409

    assert http.get(f"/api/v1/webhooks/{hook_id}").json() == shown
    assert hook_id in [w["id"] for w in http.get("/api/v1/webhooks").json()]

    # A replacement without ``secret`` keeps it; ``null`` removes it.
    replaced = http.put(
        f"/api/v1/webhooks/{hook_id}",
        json={
            "url": "http://example.invalid/2",
            "events": ["workflow.completed", "workflow.context.document.changed"],
            "enabled": False,
        },
    )
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["hasSecret"] is True and replaced.json()["enabled"] is False
    assert replaced.json()["createdAt"] == shown["createdAt"]
    cleared = http.put(f"/api/v1/webhooks/{hook_id}", json={**body, "secret": None})
    assert cleared.json()["hasSecret"] is False
    assert http.put("/api/v1/webhooks/missing-hook", json=body).status_code == 404

    assert http.delete(f"/api/v1/webhooks/{hook_id}").status_code == 204
    missing = http.get(f"/api/v1/webhooks/{hook_id}")
    assert missing.status_code == 404
    assert missing.json()["statusCode"] == 404 and hook_id in missing.json()["message"]
    assert http.delete(f"/api/v1/webhooks/{hook_id}").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"events": ["workflow.completed"]}, "url"),
        ({"url": "ftp://example.invalid/h", "events": ["workflow.completed"]}, "url"),
        ({"url": "http:///nohost", "events": ["workflow.completed"]}, "url"),
        ({"url": "http://example.invalid/h", "events": []}, "events"),
        ({"url": "http://example.invalid/h"}, "events"),
        ({"url": "http://example.invalid/h", "events": ["workflow.context.changed"]}, "events[0]"),
        ({"url": "http://example.invalid/h", "events": ["workflow.completed"], "enabled": "yes"}, "enabled"),
        ({"url": "http://example.invalid/h", "events": ["workflow.completed"], "secret": ""}, "secret"),
        ({"url": "http://example.invalid/h", "events": ["workflow.completed"], "id": "deliveries"}, "id"),
        ({"url": "http://example.invalid/h", "events": ["workflow.completed"], "id": ""}, "id"),
        ({"url": "http://example.invalid/h", "events": ["workflow.completed"], "headers": {}}, "headers"),
        (["http://example.invalid/h"], "body"),
    ],
)
def test_a_bad_subscription_is_a_400_naming_its_field(http: httpx.Client, body: Any, field: str) -> None:
    before = http.get("/api/v1/webhooks").json()
    refused = http.post("/api/v1/webhooks", json=body)
    assert refused.status_code == 400, refused.text
    assert field in [error["path"] for error in refused.json()["errors"]]
    assert http.get("/api/v1/webhooks").json() == before


def test_bad_delivery_queries_are_400s(http: httpx.Client) -> None:
    for params, field in (({"status": "lost"}, "status"), ({"limit": "0"}, "limit"), ({"limit": "x"}, "limit")):
        refused = http.get("/api/v1/webhooks/deliveries", params=params)
        assert refused.status_code == 400, refused.text
        assert field in refused.text
    assert http.post("/api/v1/webhooks/deliveries/no-such-delivery/redeliver").status_code == 404
    assert http.get("/api/v1/webhooks/deliveries/no-such-delivery").status_code == 404
    not_json = http.post("/api/v1/webhooks", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 400


def test_every_runs_end_reaches_a_server_wide_subscription_signed_with_the_server_secret(
    http: httpx.Client, receiver: Receiver
) -> None:
    hook = _subscribe(http, receiver.url)
    try:
        workflow_id = _run_to_end(http, "acme")
        [end] = receiver.wait_for(workflow_id, 1)
    finally:
        http.delete(f"/api/v1/webhooks/{hook['id']}")
    assert end.signed_with(SERVER_SECRET)
    assert end.headers["idempotency-key"] == end.body["id"]
    assert end.headers["content-type"] == "application/json"
    assert "x-authorization" not in end.headers
    body = end.body
    assert body["eventName"] == "workflow.completed"
    assert body["workflowRuntimeId"] == workflow_id
    assert body["ballerineEntityId"] == "acme" and body["correlationId"] == "c-acme"
    assert body["environment"] == "test"
    assert body["workflowStatus"] == "completed" and body["data"]["checked"] is True
    assert set(body) >= {"id", "apiVersion", "timestamp", "workflowDefinitionId", "workflowCreatedAt"}

    delivered = _until_status(http, workflow_id, "delivered")
    assert delivered["id"] == body["id"] and delivered["subscription"] == f"webhook:{hook['id']}"
    [attempt] = delivered["attempts"]
    assert attempt["statusCode"] == 200 and attempt["durationMs"] >= 0 and attempt["at"] > 0
    assert _deliveries(http, status="failed", workflowRuntimeId=workflow_id) == []
    assert http.get(f"/api/v1/webhooks/deliveries/{body['id']}").json()["status"] == "delivered"


def test_a_delivery_refused_past_the_window_is_failed_listed_and_redelivered(
    http: httpx.Client, receiver: Receiver
) -> None:
    receiver.answer = lambda body: 500
    hook = _subscribe(http, receiver.url, secret="own-secret")
    try:
        workflow_id = _run_to_end(http, "late")
        failed = _until_status(http, workflow_id, "failed")
        assert failed["lastStatusCode"] == 500 and len(failed["attempts"]) >= 2
        assert all(a["statusCode"] == 500 for a in failed["attempts"])
        assert failed["id"] in [d["id"] for d in _deliveries(http, status="failed")]
        refused = receiver.of_run(workflow_id, answered=500)
        assert len(refused) == len(failed["attempts"])

        receiver.answer = lambda body: 200
        again = http.post(f"/api/v1/webhooks/deliveries/{failed['id']}/redeliver")
        assert again.status_code == 200, again.text
        assert again.json()["status"] in ("pending", "delivered")
        [end] = receiver.wait_for(workflow_id, 1)
        delivered = _until_status(http, workflow_id, "delivered")
    finally:
        http.delete(f"/api/v1/webhooks/{hook['id']}")
    assert end.raw == refused[0].raw and end.signed_with("own-secret")
    assert [a["statusCode"] for a in delivered["attempts"]][-1] == 200
    assert len(delivered["attempts"]) == len(refused) + 1
