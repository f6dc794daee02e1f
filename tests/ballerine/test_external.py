"""``/api/v1/external/workflows``: a run about an entity (one active per entity and workflow), read, its context,
its events; Ballerine's error body for every refusal."""

from __future__ import annotations

import concurrent.futures
import re

import httpx
import pytest

from baton.api import ballerine
from tests.ballerine.support import business, errors_of, run_body, start_run, waiting_workflow
from tests.helpers import ADMIN_HEADERS, register, run_of, unique, wait_for_status
from tests.test_architecture import ambiguities

pytestmark = pytest.mark.timeout(90)

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_no_ballerine_path_has_two_routes() -> None:
    assert ambiguities(ballerine.routes) == []


def test_a_run_starts_the_latest_version_with_the_context_as_its_input(client: httpx.Client) -> None:
    name = unique("onboard")
    register(client, {**waiting_workflow(name), "version": 1, "description": "old"})
    register(client, {**waiting_workflow(name), "version": 2})
    entity_id = unique("acme")
    documents = [{"id": "doc-1", "type": "registration"}, {"type": "utility_bill"}]
    started = start_run(client, run_body(name, business(entity_id), documents=documents))

    assert set(started) == {"workflowDefinitionId", "workflowRuntimeId", "ballerineEntityId", "entities"}
    assert started["workflowDefinitionId"] == name and started["entities"] == []
    run = run_of(client, started["workflowRuntimeId"])
    assert run["workflowVersion"] == 2 and run["correlationId"] == entity_id
    entity = run["input"]["entity"]
    assert entity["id"] == entity_id and entity["ballerineEntityId"] == started["ballerineEntityId"]
    assert run["input"]["documents"][0] == {"id": "doc-1", "type": "registration"}
    assert run["input"]["documents"][1]["id"]  # given one
    assert run["variables"]["documents"] == run["input"]["documents"]

    runtime = client.get(f"/api/v1/external/workflows/{started['workflowRuntimeId']}").json()
    assert runtime["id"] == started["workflowRuntimeId"]
    assert runtime["workflowDefinitionId"] == name and runtime["workflowDefinitionVersion"] == 2
    assert (runtime["status"], runtime["state"], runtime["tags"]) == ("active", "wait_here", [])
    assert runtime["context"] == run["input"]
    assert runtime["businessId"] == started["ballerineEntityId"] and runtime["endUserId"] is None
    assert ISO.match(runtime["createdAt"]) and runtime["resolvedAt"] is None
    context = client.get(f"/api/v1/external/workflows/{started['workflowRuntimeId']}/context").json()
    assert context == {"context": run["input"]}


def test_the_same_entity_gets_its_active_run_back_until_it_ends(client: httpx.Client) -> None:
    name = unique("onboard")
    register(client, waiting_workflow(name))
    entity = business(unique("acme"))
    first = start_run(client, run_body(name, entity))
    again = start_run(client, run_body(name, entity))
    assert again == first

    # Another entity, or another type with the same caller's id, is another run.
    other = start_run(client, run_body(name, business(unique("other"))))
    person = start_run(client, run_body(name, {"type": "individual", "id": entity["id"]}))
    assert len({first["workflowRuntimeId"], other["workflowRuntimeId"], person["workflowRuntimeId"]}) == 3
    assert person["ballerineEntityId"] != first["ballerineEntityId"]

    by_ours = start_run(client, run_body(name, {"ballerineEntityId": first["ballerineEntityId"]}))
    assert by_ours == first
    unknown = client.post("/api/v1/external/workflows/run", json=run_body(name, {"ballerineEntityId": "nope"}))
    assert unknown.status_code == 400 and errors_of(unknown) == ["context.entity.ballerineEntityId"]

    allowed = start_run(client, run_body(name, entity, config={"allowMultipleActiveWorkflows": True}))
    assert allowed["workflowRuntimeId"] != first["workflowRuntimeId"]
    assert allowed["ballerineEntityId"] == first["ballerineEntityId"]

    sent = client.post(f"/api/v1/external/workflows/{first['workflowRuntimeId']}/event", json={"name": "wait_here"})
    assert sent.status_code == 200, sent.text
    wait_for_status(client, first["workflowRuntimeId"], "COMPLETED")
    after = start_run(client, run_body(name, entity))
    assert after["workflowRuntimeId"] not in (first["workflowRuntimeId"], allowed["workflowRuntimeId"])
    assert after["ballerineEntityId"] == first["ballerineEntityId"]


def test_concurrent_runs_of_one_entity_make_one_run(client: httpx.Client, server: object) -> None:
    name = unique("onboard")
    register(client, waiting_workflow(name))
    body = run_body(name, business(unique("acme")))
    url = f"{client.base_url}/api/v1/external/workflows/run"

    def one() -> str:
        response = httpx.post(url, json=body, headers=ADMIN_HEADERS, timeout=30)
        assert response.status_code == 200, response.text
        run_id: str = response.json()["workflowRuntimeId"]
        return run_id

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda _: one(), range(16)))
    assert len(ids) == 1


def test_collection_flow_entities_and_config_checks(client: httpx.Client) -> None:
    name = unique("onboard")
    register(client, waiting_workflow(name))
    started = start_run(client, run_body(name, business(unique("acme")), config={"createCollectionFlowToken": True}))
    assert started["entities"] == [{"type": "business", "id": started["ballerineEntityId"]}]

    subscriptions = [{"type": "webhook", "url": "https://example.test/hook", "events": ["workflow.completed"]}]
    ok = client.post(
        "/api/v1/external/workflows/run",
        json=run_body(name, business(unique("acme")), config={"subscriptions": subscriptions}),
    )
    assert ok.status_code == 200, ok.text

    bad = [
        ({"nonsense": 1}, ["config.nonsense"]),
        ({"allowMultipleActiveWorkflows": "yes"}, ["config.allowMultipleActiveWorkflows"]),
        ({"subscriptions": [{"type": "email", "url": "ftp://x", "events": ["workflow.exploded"]}]}, None),
        ({"subscriptions": "all"}, ["config.subscriptions"]),
    ]
    for config, paths in bad:
        response = client.post(
            "/api/v1/external/workflows/run", json=run_body(name, business(unique("acme")), config=config)
        )
        assert response.status_code == 400, response.text
        body = response.json()
        assert body["statusCode"] == 400 and body["message"] == "Validation error"
        assert body["path"] == "/api/v1/external/workflows/run" and ISO.match(body["timestamp"])
        if paths is not None:
            assert errors_of(response) == paths
        else:
            assert errors_of(response) == [
                "config.subscriptions[0].type",
                "config.subscriptions[0].url",
                "config.subscriptions[0].events[0]",
            ]


def test_refusals_name_what_is_wrong_and_store_nothing(client: httpx.Client) -> None:
    name = unique("onboard")
    register(client, waiting_workflow(name))
    url = "/api/v1/external/workflows/run"

    no_id = client.post(url, json=run_body(name, {"type": "business", "data": {}}))
    assert no_id.status_code == 400
    assert no_id.json()["message"] == "Entity id is required" and errors_of(no_id) == ["context.entity.id"]
    no_entity = client.post(url, json={"workflowId": name, "context": {}})
    assert no_entity.status_code == 400 and no_entity.json()["message"] == "Entity id is required"

    wrong_type = client.post(url, json=run_body(name, {"type": "robot", "id": "r2"}))
    assert wrong_type.status_code == 400 and errors_of(wrong_type) == ["context.entity.type"]
    documents = client.post(url, json={"workflowId": name, "context": {"entity": business("x"), "documents": {}}})
    assert documents.status_code == 400 and errors_of(documents) == ["context.documents"]
    no_workflow = client.post(url, json={"context": {"entity": business("x")}})
    assert no_workflow.status_code == 400 and errors_of(no_workflow) == ["workflowId"]
    not_json = client.post(url, content=b"[1]", headers={"content-type": "application/json"})
    assert not_json.status_code == 400 and errors_of(not_json) == ["body"]

    unknown = client.post(url, json=run_body(unique("nowhere"), business("x")))
    assert unknown.status_code == 404, unknown.text
    assert unknown.json()["statusCode"] == 404 and "nowhere" in unknown.json()["message"]

    runs = client.get("/api/workflow/search", params={"query": f"workflowType IN ({name})"}).json()
    assert runs["totalHits"] == 0


def test_reads_of_an_unknown_run_are_404_in_ballerines_shape(client: httpx.Client) -> None:
    for path in ("/api/v1/external/workflows/nope", "/api/v1/external/workflows/nope/context"):
        response = client.get(path)
        assert response.status_code == 404
        body = response.json()
        assert body["message"] == "No resource with id [nope] was found" and body["path"] == path
    missing = client.post("/api/v1/external/workflows/nope/event", json={"name": "x"})
    assert missing.status_code == 404
    route = client.get("/api/v1/no/such/route")
    assert route.status_code == 404 and route.json()["statusCode"] == 404


def test_an_event_completes_the_step_waiting_for_it_and_merges_its_payload(client: httpx.Client) -> None:
    name = unique("onboard")
    register(client, waiting_workflow(name, event="documents_sent"))
    documents = [{"id": "doc-1", "type": "registration", "pages": [1]}]
    started = start_run(client, run_body(name, business(unique("acme"), website="a.test"), documents=documents))
    run_id = started["workflowRuntimeId"]

    wrong = client.post(f"/api/v1/external/workflows/{run_id}/event", json={"name": "approve"})
    assert wrong.status_code == 400, wrong.text
    assert errors_of(wrong) == ["name"]
    assert "step 'wait_here' (event 'documents_sent')" in wrong.json()["errors"][0]["message"]
    assert run_of(client, run_id)["status"] == "RUNNING"

    payload = {
        "entity": {"data": {"website": "acme.test"}},
        "documents": [{"id": "doc-1", "type": "registration", "pages": [1, 2]}, {"type": "bank_statement"}],
        "note": "resent",
    }
    sent = client.post(
        f"/api/v1/external/workflows/{run_id}/event", json={"name": "documents_sent", "payload": payload}
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["id"] == run_id
    run = wait_for_status(client, run_id, "COMPLETED")
    assert run["output"]["result"] == payload
    context = client.get(f"/api/v1/external/workflows/{run_id}/context").json()["context"]
    assert context["entity"]["data"] == {"companyName": "Acme Ltd", "website": "acme.test"}
    assert context["entity"]["ballerineEntityId"] == started["ballerineEntityId"]
    assert context["documents"][0]["id"] == "doc-1" and len(context["documents"]) == 2
    assert context["documents"][0]["pages"] == [1, 2] and context["note"] == "resent"

    ended = client.post(f"/api/v1/external/workflows/{run_id}/event", json={"name": "documents_sent"})
    assert ended.status_code == 400 and "no step of it waits" in ended.json()["errors"][0]["message"]
    runtime = client.get(f"/api/v1/external/workflows/{run_id}").json()
    assert (runtime["status"], runtime["state"]) == ("completed", "completed") and ISO.match(runtime["resolvedAt"])
    bad_payload = client.post(f"/api/v1/external/workflows/{run_id}/event", json={"name": "x", "payload": [1]})
    assert bad_payload.status_code == 400 and errors_of(bad_payload) == ["payload"]


def test_a_run_started_elsewhere_is_read_and_sent_events_by_its_one_id(client: httpx.Client) -> None:
    name = unique("plain")
    register(client, waiting_workflow(name, human=True))
    response = client.post(f"/api/workflow/{name}", json={"entity": {"id": "x"}, "documents": []})
    run_id = response.text
    runtime = client.get(f"/api/v1/external/workflows/{run_id}").json()
    assert runtime["state"] == "manual_review" and runtime["tags"] == ["manual_review"]
    assert runtime["context"] == {"entity": {"id": "x"}, "documents": []} and runtime["ballerineEntityId"] is None
    sent = client.post(
        f"/api/v1/external/workflows/{run_id}/send-event", json={"name": "wait_here", "payload": {"ok": 1}}
    )
    assert sent.status_code == 200, sent.text
    wait_for_status(client, run_id, "COMPLETED")
    assert client.get(f"/api/v1/external/workflows/{run_id}/context").json()["context"]["ok"] == 1


def test_an_initial_event_is_sent_at_once(client: httpx.Client) -> None:
    name = unique("onboard")
    register(client, waiting_workflow(name, event="go"))
    started = start_run(client, run_body(name, business(unique("acme")), config={"initialEvent": "go"}))
    wait_for_status(client, started["workflowRuntimeId"], "COMPLETED")


def test_the_back_office_sends_events_on_its_own_path(client: httpx.Client) -> None:
    name = unique("onboard")
    register(client, waiting_workflow(name, event="go"))
    started = start_run(client, run_body(name, business(unique("acme"))))
    sent = client.post(f"/api/v1/internal/workflows/{started['workflowRuntimeId']}/event", json={"name": "go"})
    assert sent.status_code == 200, sent.text
    wait_for_status(client, started["workflowRuntimeId"], "COMPLETED")
