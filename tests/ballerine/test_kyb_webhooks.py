"""The issue's proof for Ballerine's way in: a KYB case started through ``/api/v1/external/workflows/run`` with
a subscription, an automated worker check, a reviewer's revision, a resubmitted document through ``/event``,
approval; a local receiver checks every webhook's signature, their order, and the redelivery after it answered
500 once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ballerine.support import business, register_kyb, run_body, start_run
from tests.ballerine.test_cases import check_worker, until_state
from tests.helpers import unique, wait_for_status
from tests.webhooks.conftest import SERVER_SECRET, hook_server, http, receiver
from tests.webhooks.receiver import Receiver

pytestmark = pytest.mark.timeout(120)

__all__ = ["hook_server", "http", "receiver"]  # the webhooks package's server and receiver, as fixtures here


def test_a_kyb_case_tells_its_subscriber_each_change_signed_and_in_order(
    http: httpx.Client, receiver: Receiver
) -> None:
    name, _, check = register_kyb(http)
    events = ["workflow.state.changed", "workflow.context.document.changed", "workflow.completed"]
    subscription = {"type": "webhook", "url": receiver.url, "events": events}
    failed_once: set[str] = set()

    def answer(body: dict[str, Any]) -> int:
        if body["eventName"] == "workflow.context.document.changed" and not failed_once:
            failed_once.add(body["id"])
            return 500
        return 200

    receiver.answer = answer
    documents = [{"id": "reg", "type": "registration"}, {"id": "bill", "type": "utility_bill"}]
    body = run_body(name, business(unique("acme")), documents=documents, config={"subscriptions": [subscription]})
    started = start_run(http, body)
    run_id = started["workflowRuntimeId"]

    check_worker(http, check, {"passed": True})
    until_state(http, run_id, "manual_review")
    patch = f"/api/v1/internal/workflows/{run_id}"
    marked = http.patch(f"{patch}/decision/bill", json={"decision": "revision", "reason": "blurry"})
    assert marked.status_code == 200, marked.text
    revised = http.patch(f"{patch}/event-decision", json={"name": "revision", "reason": "bill", "reviewer": "rita"})
    assert revised.status_code == 200, revised.text
    resent = {"name": "documents", "payload": {"documents": [{"id": "bill", "type": "utility_bill", "pages": 2}]}}
    assert http.post(f"/api/v1/external/workflows/{run_id}/event", json=resent).status_code == 200
    check_worker(http, check, {"passed": True})
    until_state(http, run_id, "manual_review")
    approved = http.patch(f"{patch}/event-decision", json={"name": "approve", "reviewer": "rita"})
    assert approved.status_code == 200, approved.text
    wait_for_status(http, run_id, "COMPLETED")

    delivered = receiver.wait_for(run_id, 9)
    names = [(r.body["eventName"], r.body.get("state")) for r in delivered]
    assert names == [
        ("workflow.state.changed", "manual_review"),  # the worker's check moved it
        ("workflow.context.document.changed", None),  # the bill marked for revision
        ("workflow.state.changed", "revision"),
        ("workflow.context.document.changed", None),  # the bill sent again: revised
        ("workflow.state.changed", "pending_process"),
        ("workflow.state.changed", "manual_review"),
        ("workflow.context.document.changed", None),  # approved with the case
        ("workflow.state.changed", "approved"),
        ("workflow.completed", None),
    ], names
    statuses = [
        {doc["id"]: (doc.get("decision") or {}).get("status") for doc in r.body["data"]["documents"]}
        for r in delivered
        if r.body["eventName"] == "workflow.context.document.changed"
    ]
    assert statuses == [
        {"reg": None, "bill": "revision"},
        {"reg": None, "bill": "revised"},
        {"reg": "approved", "bill": "approved"},
    ]
    assert all("assignee" in r.body for r in delivered if r.body["eventName"].endswith("document.changed"))
    assert all(r.signed_with(SERVER_SECRET) for r in delivered)
    assert all(r.body["workflowRuntimeId"] == run_id for r in delivered)
    assert delivered[0].body["ballerineEntityId"] == started["ballerineEntityId"]
    first_try = receiver.of_run(run_id, answered=500)
    assert len(first_try) == 1 and first_try[0].body["id"] == delivered[1].body["id"]
    assert first_try[0].headers["idempotency-key"] == delivered[1].headers["idempotency-key"]
