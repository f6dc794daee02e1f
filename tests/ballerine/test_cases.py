"""Cases through Ballerine's back office: the KYB flow (an automated check, a revision, a resubmitted document,
approval), the case list with its filters and pages, assignment, document decisions, and cases added by hand."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.ballerine.support import business, errors_of, register_kyb, run_body, start_run, waiting_workflow
from tests.helpers import complete, register, run_of, unique, wait_for, wait_for_status

pytestmark = pytest.mark.timeout(120)


def check_worker(client: httpx.Client, task_type: str, output: dict[str, Any]) -> dict[str, Any]:
    """One automated check, as a worker does it: poll Conductor's API, read the documents, complete."""
    response = client.get(f"/api/tasks/poll/{task_type}", params={"workerid": "kyb-checker"})
    assert response.status_code == 200, response.text
    task: dict[str, Any] = response.json()
    assert complete(client, task, output).status_code == 200
    return task


def case(client: httpx.Client, run_id: str) -> dict[str, Any]:
    response = client.get(f"/api/v1/internal/workflows/{run_id}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def until_state(client: httpx.Client, run_id: str, state: str) -> dict[str, Any]:
    wait_for(client, run_id, lambda run: case(client, run_id)["state"] == state)
    return case(client, run_id)


def patch(client: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return client.patch(f"/api/v1/internal/workflows/{path}", json=body)


def test_a_kyb_case_from_start_through_revision_to_approval(client: httpx.Client) -> None:
    name, queue, check = register_kyb(client)
    documents = [{"id": "reg", "type": "registration"}, {"id": "bill", "type": "utility_bill", "pages": [1]}]
    entity_id = unique("acme")
    started = start_run(client, run_body(name, business(entity_id), documents=documents))
    run_id = started["workflowRuntimeId"]
    assert case(client, run_id)["state"] == "pending_process"

    first = check_worker(client, check, {"passed": True, "findings": ["bill is blurry"]})
    assert [d["id"] for d in first["inputData"]["documents"]] == ["reg", "bill"]
    assert first["inputData"]["entity"]["id"] == entity_id
    reviewing = until_state(client, run_id, "manual_review")
    assert reviewing["tags"] == ["manual_review"] and reviewing["queue"] == queue
    assert reviewing["entity"]["correlationId"] == entity_id and reviewing["entity"]["name"] == "Acme Ltd"

    marked = patch(client, f"{run_id}/decision/bill", {"decision": "revision", "reason": "blurry", "comment": "rescan"})
    assert marked.status_code == 200, marked.text
    bill = marked.json()["context"]["documents"][1]
    assert bill["decision"] == {"status": "revision", "revisionReason": "blurry", "comment": "rescan"}

    revised = patch(client, f"{run_id}/event-decision", {"name": "revision", "reason": "bill", "reviewer": "rita"})
    assert revised.status_code == 200, revised.text
    assert revised.json()["state"] == "revision"
    runtime = client.get(f"/api/v1/external/workflows/{run_id}").json()
    assert runtime["state"] == "revision" and runtime["status"] == "active"
    again = patch(client, f"{run_id}/event-decision", {"name": "approve", "reviewer": "rita"})
    assert again.status_code == 400 and errors_of(again) == ["name"]
    assert "no step waiting for a review (state: revision)" in again.json()["message"]

    review = next(t for t in run_of(client, run_id)["tasks"] if t["taskType"] == "HUMAN")
    assert review["outputData"] == {"decision": "revision", "reason": "bill", "reviewer": "rita"}

    resubmitted = {"documents": [{"id": "bill", "type": "utility_bill", "pages": [2]}]}
    sent = client.post(f"/api/v1/external/workflows/{run_id}/event", json={"name": "documents", "payload": resubmitted})
    assert sent.status_code == 200, sent.text
    second = check_worker(client, check, {"passed": True, "findings": []})
    bill = second["inputData"]["documents"][1]
    assert bill["pages"] == [2] and bill["decision"] == {"status": "revised"}
    until_state(client, run_id, "manual_review")

    approved = patch(client, f"{run_id}/event-decision", {"name": "approve", "reason": "all good", "reviewer": "rita"})
    assert approved.status_code == 200, approved.text
    run = wait_for_status(client, run_id, "COMPLETED")
    assert run["output"]["decision"] == "approve" and run["output"]["reviewer"] == "rita"
    done = case(client, run_id)
    assert (done["state"], done["status"], done["tags"]) == ("approved", "completed", ["approved"])
    assert [(d["decision"], d["reviewer"], d["reason"]) for d in done["decisions"]] == [
        ("revision", "rita", "bill"),
        ("approve", "rita", "all good"),
    ]
    assert all(doc["decision"]["status"] == "approved" for doc in done["context"]["documents"])
    listed = client.get("/api/v1/internal/workflows", params={"filter[queue]": queue}).json()
    assert [(item["id"], item["state"]) for item in listed["data"]] == [(run_id, "approved")]
    ended = patch(client, f"assign/{run_id}", {"assigneeId": "sam"})
    assert ended.status_code == 400 and "has ended (approved)" in ended.json()["message"]
    late = patch(client, f"{run_id}/decision/reg", {"decision": "reject"})
    assert late.status_code == 400


def test_a_rejected_case_ends_rejected_with_its_documents(client: httpx.Client) -> None:
    name, _, check = register_kyb(client)
    started = start_run(client, run_body(name, business(unique("acme")), documents=[{"id": "d1", "type": "id"}]))
    run_id = started["workflowRuntimeId"]
    check_worker(client, check, {"passed": False})
    until_state(client, run_id, "manual_review")
    rejected = patch(client, f"{run_id}/event-decision", {"name": "reject", "reason": "forged"})
    assert rejected.status_code == 200, rejected.text
    wait_for_status(client, run_id, "COMPLETED")
    done = case(client, run_id)
    assert done["state"] == "rejected" and done["decisions"][0]["reviewer"] is None
    assert done["context"]["documents"][0]["decision"] == {"status": "rejected", "rejectionReason": "forged"}


def test_the_case_list_pages_filters_searches_and_orders(client: httpx.Client) -> None:
    name, queue, check = register_kyb(client)
    entities = [business(unique("acme"), companyName=company) for company in ("Alpha Co", "Beta Co", "Gamma Co")]
    ids = [start_run(client, run_body(name, entity))["workflowRuntimeId"] for entity in entities]
    check_worker(client, check, {"passed": True})
    wait_for(client, ids[0], lambda run: any(t["taskType"] == "HUMAN" for t in run["tasks"]))

    def listed(**params: Any) -> dict[str, Any]:
        response = client.get("/api/v1/internal/workflows", params={"filter[queue]": queue, **params})
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    everything = listed()
    assert everything["meta"] == {"totalItems": 3, "totalPages": 1}
    assert [item["id"] for item in everything["data"]] == ids[::-1]
    item = everything["data"][2]
    assert item["entity"]["name"] == "Alpha Co" and item["entity"]["type"] == "business"
    assert item["status"] == "active" and item["assignee"] is None
    assert [i["id"] for i in listed(orderBy="createdAt:asc")["data"]] == ids

    first_page = listed(**{"page[number]": "1", "page[size]": "2"})
    assert first_page["meta"] == {"totalItems": 3, "totalPages": 2} and len(first_page["data"]) == 2
    assert len(listed(**{"page[number]": "2", "page[size]": "2"})["data"]) == 1
    beyond = client.get(
        "/api/v1/internal/workflows", params={"filter[queue]": queue, "page[number]": "3", "page[size]": "2"}
    )
    assert beyond.status_code == 404 and beyond.json()["message"] == "Page not found"

    assert [i["id"] for i in listed(search="beta")["data"]] == [ids[1]]
    assert [i["id"] for i in listed(search=entities[2]["id"])["data"]] == [ids[2]]
    assert [i["id"] for i in listed(**{"filter[caseStatus][]": "manual_review"})["data"]] == [ids[0]]
    assert len(listed(**{"filter[caseStatus][]": ["pending_process", "manual_review"]})["data"]) == 3

    assigned = patch(client, f"assign/{ids[1]}", {"assigneeId": "alice"})
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assigneeId"] == "alice" and assigned.json()["assignee"] == {"id": "alice"}
    assert [i["id"] for i in listed(**{"filter[assigneeId][]": "alice"})["data"]] == [ids[1]]
    assert [i["id"] for i in listed(**{"filter[assigneeId][]": ""})["data"]] == [ids[2], ids[0]]
    unassigned = patch(client, f"assign/{ids[1]}", {"assigneeId": None})
    assert unassigned.status_code == 200 and unassigned.json()["assigneeId"] is None

    for params, path in (
        ({"page[size]": "0"}, "page[size]"),
        ({"page[number]": "x"}, "page[number]"),
        ({"orderBy": "name:up"}, "orderBy"),
        ({"filter[caseStatus][]": "sleeping"}, "filter.state"),
        ({"filter[status][]": "paused"}, "filter.status"),
        ({"filterId": "nope"}, "filterId"),
    ):
        response = client.get("/api/v1/internal/workflows", params=params)
        assert response.status_code == 400, (params, response.text)
        assert errors_of(response) == [path]
    assert patch(client, "assign/nope", {"assigneeId": "a"}).status_code == 404
    assert patch(client, f"assign/{ids[0]}", {"assigneeId": 7}).status_code == 400


def test_saved_filters_are_queues_of_the_case_list(client: httpx.Client) -> None:
    name, queue, _ = register_kyb(client)
    started = start_run(client, run_body(name, business(unique("acme"))))
    person_flow = unique("person_review")
    register(client, {**waiting_workflow(person_flow, human=True), "case": {"entityType": "individual"}})
    person = start_run(client, run_body(person_flow, {"type": "individual", "id": unique("ada")}))

    created = client.post("/api/v1/filters", json={"name": "KYB", "entity": "businesses", "query": {"queue": queue}})
    assert created.status_code == 201, created.text
    saved = created.json()
    assert saved["name"] == "KYB" and saved["query"] == {"queue": queue} and saved["id"]
    assert saved in client.get("/api/v1/filters").json()
    assert client.get(f"/api/v1/filters/{saved['id']}").json() == saved
    assert client.get("/api/v1/filters/nope").status_code == 404

    by_filter = client.get("/api/v1/internal/workflows", params={"filterId": saved["id"]}).json()
    assert [item["id"] for item in by_filter["data"]] == [started["workflowRuntimeId"]]

    people = client.post(
        "/api/v1/filters", json={"name": "People", "entity": "individuals", "query": {"workflowId": person_flow}}
    ).json()
    found = client.get("/api/v1/internal/workflows", params={"filterId": people["id"]}).json()
    assert [item["id"] for item in found["data"]] == [person["workflowRuntimeId"]]
    assert found["data"][0]["entity"]["type"] == "individual"

    for body, paths in (
        ({"name": "x", "entity": "robots", "query": {}}, ["entity"]),
        ({"name": "x", "entity": "businesses", "query": {"color": "red"}}, ["query.color"]),
        ({"name": "", "entity": "businesses"}, ["name"]),
        ({"name": "x", "entity": "businesses", "query": {"state": ["late"]}}, ["query.state"]),
    ):
        response = client.post("/api/v1/filters", json=body)
        assert response.status_code == 400 and errors_of(response) == paths


def test_document_decisions_are_checked(client: httpx.Client) -> None:
    name, _, _ = register_kyb(client)
    started = start_run(client, run_body(name, business(unique("acme")), documents=[{"id": "d1", "type": "id"}]))
    run_id = started["workflowRuntimeId"]
    missing = patch(client, f"{run_id}/decision/nope", {"decision": "approve"})
    assert missing.status_code == 404 and "nope" in missing.json()["message"]
    wrong = patch(client, f"{run_id}/decision/d1", {"decision": "maybe"})
    assert wrong.status_code == 400 and errors_of(wrong) == ["decision"]
    approved = patch(client, f"{run_id}/decision/d1", {"decision": "approve", "reason": "ignored", "comment": "ok"})
    assert approved.json()["context"]["documents"][0]["decision"] == {"status": "approved", "comment": "ok"}
    cleared = patch(client, f"{run_id}/decision/d1", {"decision": None})
    assert cleared.json()["context"]["documents"][0]["decision"] == {"status": None}
    bad = patch(client, f"{run_id}/event-decision", {"name": "maybe"})
    assert bad.status_code == 400 and errors_of(bad) == ["name"]


def test_a_case_is_added_by_hand(client: httpx.Client) -> None:
    name, queue, _ = register_kyb(client)
    context = {"entity": {"data": {"companyName": "Handmade Ltd"}}, "documents": [{"type": "registration"}]}
    created = client.post("/api/v1/case-management", json={"workflowId": name, "context": context})
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) == {"workflowDefinitionId", "workflowRuntimeId", "ballerineEntityId"}
    found = case(client, body["workflowRuntimeId"])
    assert found["entity"]["type"] == "business" and found["entity"]["name"] == "Handmade Ltd"
    entity = found["context"]["entity"]
    assert entity["id"] == found["entity"]["correlationId"] and entity["ballerineEntityId"] == body["ballerineEntityId"]
    assert found["config"] == {"isManualCreation": True} and found["queue"] == queue

    refused = client.post("/api/v1/case-management", json={"workflowId": name, "context": {"entity": "acme"}})
    assert refused.status_code == 400 and errors_of(refused) == ["context.entity"]
    unknown = client.post("/api/v1/case-management", json={"workflowId": unique("nowhere"), "context": {}})
    assert unknown.status_code == 404


def test_a_case_missing_a_required_input_is_refused_and_nothing_is_stored(client: httpx.Client) -> None:
    name = unique("declared")
    definition = {
        **waiting_workflow(name, human=True),
        "inputs": [
            {"name": "entity", "type": "Object", "required": True},
            {"name": "riskLevel", "type": "Int32", "required": True},
        ],
    }
    register(client, definition)
    context = {"entity": {"type": "business", "data": {"companyName": "Half Ltd"}}}
    refused = client.post("/api/v1/case-management", json={"workflowId": name, "context": context})
    assert refused.status_code == 400, refused.text
    assert errors_of(refused) == ["context.riskLevel"]
    wrong = client.post("/api/v1/case-management", json={"workflowId": name, "context": {**context, "riskLevel": "x"}})
    assert wrong.status_code == 400 and errors_of(wrong) == ["context.riskLevel"]
    runs = client.get("/api/workflow/search", params={"query": f"workflowType IN ({name})"}).json()
    assert runs["totalHits"] == 0
    accepted = client.post("/api/v1/case-management", json={"workflowId": name, "context": {**context, "riskLevel": 2}})
    assert accepted.status_code == 201, accepted.text
