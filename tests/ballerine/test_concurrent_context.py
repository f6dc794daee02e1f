"""Many changes to one run's context at the same moment (events through ``/external/workflows/{id}/event`` and
document decisions through the back office) lose none of each other's: each is one decision computed from the run
it locks, not from a read made before."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.ballerine.support import business, run_body, start_run
from tests.helpers import register, unique

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow]

EVENTS = 8
DOCUMENTS = 6


def forked_waits(name: str) -> dict[str, Any]:
    """A case whose run waits at once in ``EVENTS`` branches, each for an event of its own."""
    branches = [
        [{"name": f"wait_{i}", "taskReferenceName": f"wait_{i}", "type": "WAIT", "inputParameters": {"event": f"e{i}"}}]
        for i in range(EVENTS)
    ]
    return {
        "name": name,
        "version": 1,
        "case": {"entityType": "business", "queue": unique("queue")},
        "tasks": [
            {"name": "fan", "taskReferenceName": "fan", "type": "FORK_JOIN", "forkTasks": branches},
            {"name": "join", "taskReferenceName": "join", "type": "JOIN", "joinOn": []},
            {"name": "last", "taskReferenceName": "last", "type": "WAIT", "inputParameters": {"event": "never"}},
        ],
    }


def test_concurrent_events_and_document_decisions_on_one_run_lose_nothing(client: httpx.Client) -> None:
    name = unique("concurrent_context")
    register(client, forked_waits(name))
    documents = [{"id": f"doc{i}", "type": "registration"} for i in range(DOCUMENTS)]
    run_id = start_run(client, run_body(name, business(unique("acme")), documents=documents))["workflowRuntimeId"]

    def send_event(i: int) -> int:
        payload = {"documents": [{"id": f"new{i}", "type": "bill"}], f"key{i}": {"n": i}}
        body = {"name": f"e{i}", "payload": payload}
        return client.post(f"/api/v1/external/workflows/{run_id}/event", json=body).status_code

    def decide(i: int) -> int:
        body = {"decision": "approve" if i % 2 == 0 else "reject", "reason": f"r{i}"}
        return client.patch(f"/api/v1/internal/workflows/{run_id}/decision/doc{i}", json=body).status_code

    with ThreadPoolExecutor(max_workers=EVENTS + DOCUMENTS) as pool:
        sent = [pool.submit(send_event, i) for i in range(EVENTS)]
        decided = [pool.submit(decide, i) for i in range(DOCUMENTS)]
        assert [f.result() for f in sent] == [200] * EVENTS
        assert [f.result() for f in decided] == [200] * DOCUMENTS

    response = client.get(f"/api/v1/external/workflows/{run_id}/context")
    assert response.status_code == 200, response.text
    context = response.json()["context"]
    by_id = {doc["id"]: doc for doc in context["documents"]}
    assert sorted(by_id) == sorted([f"doc{i}" for i in range(DOCUMENTS)] + [f"new{i}" for i in range(EVENTS)])
    assert len(context["documents"]) == DOCUMENTS + EVENTS
    for i in range(DOCUMENTS):
        assert by_id[f"doc{i}"]["decision"]["status"] == ("approved" if i % 2 == 0 else "rejected"), by_id
    assert all(context[f"key{i}"] == {"n": i} for i in range(EVENTS))
    run = client.get(f"/api/workflow/{run_id}").json()
    assert all(t["status"] == "COMPLETED" for t in run["tasks"] if t["referenceTaskName"].startswith("wait_"))
