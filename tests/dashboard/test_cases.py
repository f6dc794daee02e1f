"""Cases in the dashboard, in a real browser against a real ``baton serve``: queues with their counts and paged lists, a
case's page with its entity and a document's picture, assigning, deciding the case and one document (read back
over Ballerine's API), asking for a revision, adding a case by hand; what a VIEWER and a REVIEWER of other
queues may not do, and a decision without its reason."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.access.helpers import key_headers, make_key
from tests.ballerine.support import business, register_kyb, run_body, start_run, waiting_workflow
from tests.conftest import ServerProcess
from tests.dashboard.conftest import fits_a_phone, log_in, screenshot, wait_for_task
from tests.helpers import ADMIN_KEY_ID, SHARED_TLS, register, unique, wait_for_status, work_one

pytestmark = pytest.mark.timeout(180)


def _svg(title: str, line: str, paper: str) -> str:
    """A document's page as a data: URL: a small drawn certificate or bill."""
    drawing = (
        "<svg xmlns='http://www.w3.org/2000/svg' width='360' height='230'>"
        f"<rect x='3' y='3' width='354' height='224' fill='{paper}' stroke='#7a6a40' stroke-width='5'/>"
        f"<text x='180' y='62' font-size='21' text-anchor='middle' font-family='serif'>{title}</text>"
        f"<text x='180' y='112' font-size='17' text-anchor='middle' font-family='serif'>{line}</text>"
        "<line x1='40' y1='150' x2='320' y2='150' stroke='#9a8a60'/>"
        "<line x1='40' y1='172' x2='250' y2='172' stroke='#9a8a60'/>"
        "<circle cx='300' cy='190' r='22' fill='none' stroke='#b33' stroke-width='3'/></svg>"
    )
    return "data:image/svg+xml;base64," + base64.b64encode(drawing.encode()).decode()


DOCUMENTS = [
    {
        "id": "reg",
        "category": "registration",
        "type": "certificate_of_incorporation",
        "pages": [{"uri": _svg("Certificate of Incorporation", "Acme Ltd · No. 0815-4711", "#f8f4e6"), "type": "svg"}],
    },
    {
        "id": "bill",
        "category": "proof_of_address",
        "type": "utility_bill",
        "pages": [{"uri": _svg("Utility bill", "12 Harbour Road, Leith", "#eef4fb"), "type": "svg"}],
    },
]


def _case_definition(client: httpx.Client, queue: str, **extra: Any) -> str:
    """A case definition of ``queue``: a review (HUMAN) step, then an end."""
    name = unique("dash_case")
    case = {"entityType": "business", "queue": queue}
    register(client, {**waiting_workflow(name, human=True), "case": case, **extra})
    return name


def _queue(client: httpx.Client, queue: str) -> dict[str, Any]:
    body = {"name": unique("Queue"), "entity": "businesses", "query": {"queue": queue}}
    made = client.post("/api/v1/filters", json=body)
    assert made.status_code == 201, made.text
    saved: dict[str, Any] = made.json()
    return saved


def _case_in_review(client: httpx.Client, name: str, company: str = "Acme Ltd", **extra: Any) -> str:
    entity = business(unique("acme"), companyName=company, registrationNumber="0815-4711")
    entity["data"]["address"] = {"street": "12 Harbour Road", "city": "Leith"}
    workflow_id: str = start_run(client, run_body(name, entity, **extra))["workflowRuntimeId"]
    wait_for_task(client, workflow_id, "wait_here")
    return workflow_id


def _case(client: httpx.Client, workflow_id: str) -> dict[str, Any]:
    answer = client.get(f"/api/v1/internal/workflows/{workflow_id}")
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _decide(page: Page, form: str, decision: str, reason: str = "") -> None:
    page.check(f"{form} input[name=decision][value={decision}]")
    page.fill(f"{form} textarea[name=reason]", reason)
    page.click(f"{form} button[type=submit]")


def test_queues_show_their_open_cases_and_list_them_by_state(server: ServerProcess, page: Page) -> None:
    queue, other = unique("q"), unique("q")
    with server.client() as client:
        name = _case_definition(client, queue)
        _case_definition(client, other)
        saved = _queue(client, queue)
        ids = [_case_in_review(client, name, company) for company in ("Alpha Co", "Beta Co", "Gamma Co")]
        decided = client.patch(f"/api/v1/internal/workflows/{ids[0]}/event-decision", json={"name": "approve"})
        assert decided.status_code == 200, decided.text
        wait_for_status(client, ids[0], "COMPLETED")
    log_in(page, server.url)
    page.click("nav >> text=Cases")
    page.wait_for_url(f"{server.url}/ui/cases")
    expect(page.locator("a.queue[data-queue=all]")).to_be_visible()

    page.click(f"a.queue[data-queue='{saved['id']}']")
    expect(page.locator(f"a.queue[data-queue='{saved['id']}'] .count")).to_have_text("2")
    expect(page.locator("a[data-state=manual_review] .count")).to_have_text("2")
    expect(page.locator("a[data-state=approved] .count")).to_have_text("1")
    rows = page.locator("table.cases tbody tr")
    expect(rows).to_have_count(3)
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.case)") == ids[::-1]
    expect(rows.first).to_contain_text("Gamma Co")

    page.click("a[data-state=approved]")
    expect(rows).to_have_count(1)
    expect(page.locator(f"tr[data-case='{ids[0]}']")).to_contain_text("approved")
    page.click("a[data-state=manual_review]")
    page.fill("input[name=search]", "beta")
    page.click("form.filters button[type=submit]")
    expect(rows).to_have_count(1)
    expect(page.locator(f"tr[data-case='{ids[1]}']")).to_be_visible()
    page.goto(f"{server.url}/ui/cases?queue={saved['id']}")
    screenshot(page, "cases")
    fits_a_phone(page)

    with server.client() as client:
        for number in range(20):
            start_run(client, run_body(name, business(unique("acme"), companyName=f"Paged {number}")))
    page.reload()
    expect(page.locator(".total")).to_have_text("23 cases, 1-20 shown")
    expect(rows).to_have_count(20)
    page.click("a[rel=next]")
    expect(page.locator(".total")).to_have_text("23 cases, 21-23 shown")
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.case)") == ids[::-1]
    expect(page.locator("a[rel=next]")).to_have_count(0)


def test_a_case_page_shows_the_entity_and_documents_and_takes_decisions(server: ServerProcess, page: Page) -> None:
    queue = unique("q")
    with server.client() as client:
        name = _case_definition(client, queue)
        workflow_id = _case_in_review(client, name, documents=DOCUMENTS)
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/cases/{workflow_id}")
    expect(page.locator("h1")).to_contain_text("Acme Ltd")
    expect(page.locator("#case-state")).to_have_text("manual review")
    expect(page.locator("#run-status")).to_have_text("RUNNING")
    expect(page.locator("a.run-link")).to_have_attribute("href", f"/ui/runs/{workflow_id}")
    entity = page.locator("section.entity")
    expect(entity).to_contain_text("0815-4711")
    expect(entity.locator("details summary", has_text="address")).to_be_visible()
    expect(entity).to_contain_text("Harbour Road")
    picture = page.locator("article[data-document=reg] img")
    expect(picture).to_be_visible()
    assert picture.evaluate("img => img.complete && img.naturalWidth") == 360, "the picture is shown"
    expect(page.locator("article.document")).to_have_count(2)
    screenshot(page, "case")
    fits_a_phone(page)

    questions: list[str] = []

    def accept(dialog: Dialog) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    page.click("button.action-assign")
    page.wait_for_url(re.compile(r".*\?done=assigned$"))
    expect(page.locator("#case-assignee")).to_have_text(ADMIN_KEY_ID)
    expect(page.locator("button.action-assign")).to_have_count(0)
    with server.client() as client:
        assert _case(client, workflow_id)["assigneeId"] == ADMIN_KEY_ID

    _decide(page, "article[data-document=bill] form.decide", "reject", "the address is cut off")
    page.wait_for_url(re.compile(r".*\?done=document$"))
    expect(page.locator("article[data-document=bill] .decision")).to_have_text("rejected")
    with server.client() as client:
        bill = _case(client, workflow_id)["context"]["documents"][1]
    assert bill["decision"] == {"status": "rejected", "rejectionReason": "the address is cut off"}

    _decide(page, ".case-decision form.decide", "approve", "registered and known")
    page.wait_for_url(re.compile(r".*\?done=approve$"))
    expect(page.locator(".notice")).to_have_text("The case is approved.")
    assert questions == [
        f"Assign this case to you ({ADMIN_KEY_ID})?",
        "Reject the document proof_of_address · utility_bill?",
        "Approve the case?",
    ]
    expect(page.locator("table.decisions tbody tr")).to_contain_text("approve")
    with server.client() as client:
        wait_for_status(client, workflow_id, "COMPLETED")
        done = _case(client, workflow_id)
    assert done["state"] == "approved"
    assert [(d["decision"], d["reviewer"], d["reason"]) for d in done["decisions"]] == [
        ("approve", ADMIN_KEY_ID, "registered and known")
    ]
    page.reload()
    expect(page.locator("#case-state")).to_have_text("approved")
    expect(page.locator("form.decide")).to_have_count(0)
    expect(page.locator(".activity li")).to_have_count(3)
    with server.client() as client:
        late = client.post(f"/ui/cases/{workflow_id}/decide", data={"decision": "reject", "reason": "too late"})
    assert late.status_code == 400 and "<code>decision</code>" in late.text and "no step waiting" in late.text


def test_a_revision_is_asked_for_with_its_reason(server: ServerProcess, page: Page) -> None:
    with server.client() as client:
        name, _, check = register_kyb(client)
        workflow_id = start_run(client, run_body(name, business(unique("acme")), documents=DOCUMENTS))[
            "workflowRuntimeId"
        ]
        work_one(client, check, {"passed": True})
        wait_for_task(client, workflow_id, "manual_review__1")
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/cases/{workflow_id}")
    page.on("dialog", lambda dialog: dialog.accept())
    _decide(page, ".case-decision form.decide", "revision", "send a readable bill")
    page.wait_for_url(re.compile(r".*\?done=revision$"))
    expect(page.locator("#case-state")).to_have_text("revision")
    with server.client() as client:
        found = _case(client, workflow_id)
    assert found["state"] == "revision"
    assert [(d["decision"], d["reason"]) for d in found["decisions"]] == [("revision", "send a readable bill")]


def test_a_case_is_added_by_hand_from_its_queue(server: ServerProcess, page: Page) -> None:
    queue = unique("q")
    inputs = [
        {"name": "entity", "type": "Object", "displayName": "Entity (JSON)"},
        {"name": "riskLevel", "type": "Int32", "required": True, "displayName": "Risk level"},
    ]
    with server.client() as client:
        name = _case_definition(client, queue, inputs=inputs)
        saved = _queue(client, queue)
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/cases?queue={saved['id']}")
    page.click(f"a.add-case-link:has-text('{name}')")
    page.wait_for_url(re.compile(rf".*/ui/cases/add/{name}\?queue="))
    page.fill("#in-entity", '{"data": {"companyName": "Handmade Ltd"}}')
    screenshot(page, "case-add")
    page.click("form.add-case-form button[type=submit]")
    expect(page.locator(".field-error[data-field='input.riskLevel']")).to_contain_text("required")
    expect(page.locator("#in-entity")).to_have_value('{"data": {"companyName": "Handmade Ltd"}}')

    page.fill("#in-riskLevel", "3")
    page.click("form.add-case-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/ui/cases/[^/?]+\?done=created$"))
    expect(page.locator("h1")).to_contain_text("Handmade Ltd")
    workflow_id = page.url.split("?")[0].rsplit("/", 1)[-1]
    with server.client() as client:
        found = _case(client, workflow_id)
    assert found["config"] == {"isManualCreation": True} and found["queue"] == queue
    assert found["context"]["riskLevel"] == 3 and found["entity"]["name"] == "Handmade Ltd"


def test_a_viewer_sees_no_decisions_and_its_forged_ones_are_refused(server: ServerProcess, page: Page) -> None:
    queue = unique("q")
    with server.client() as client:
        viewer = make_key(client, ["VIEWER"])
        name = _case_definition(client, queue)
        workflow_id = _case_in_review(client, name, documents=DOCUMENTS)
    log_in(page, server.url, viewer)
    page.goto(f"{server.url}/ui/cases/{workflow_id}")
    expect(page.locator("article[data-document=reg] img")).to_be_visible()
    expect(page.locator("form.decide")).to_have_count(0)
    expect(page.locator("button.action-assign")).to_have_count(0)
    csrf = page.locator("input[name=csrf]").first.get_attribute("value") or ""
    for path in ("decide", "assign", "documents/reg/decide"):
        forged = page.request.post(
            f"{server.url}/ui/cases/{workflow_id}/{path}", form={"csrf": csrf, "decision": "approve", "to": "me"}
        )
        assert forged.status == 403 and "needs the REVIEWER role" in forged.text(), path
    with server.client() as client:
        found = _case(client, workflow_id)
    assert found["decisions"] == [] and found["assigneeId"] is None and found["state"] == "manual_review"


def test_a_reviewer_of_one_queue_sees_and_decides_only_its_cases(server: ServerProcess) -> None:
    mine, theirs = unique("q"), unique("q")
    with server.client() as client:
        reviewer = make_key(client, ["REVIEWER"], queues=[mine])
        my_queue, their_queue = _queue(client, mine), _queue(client, theirs)
        my_case = _case_in_review(client, _case_definition(client, mine))
        their_case = _case_in_review(client, _case_definition(client, theirs))
    with httpx.Client(base_url=server.url, headers=key_headers(reviewer), verify=SHARED_TLS) as as_reviewer:
        queues = as_reviewer.get("/ui/cases")
        assert queues.status_code == 200
        assert my_queue["name"] in queues.text and their_queue["name"] not in queues.text
        assert "All my queues" in queues.text and my_case in queues.text and their_case not in queues.text
        theirs_listed = as_reviewer.get("/ui/cases", params={"queue": their_queue["id"]})
        assert theirs_listed.status_code == 200 and their_case not in theirs_listed.text
        assert as_reviewer.get(f"/ui/cases/{their_case}").status_code == 403
        refused = as_reviewer.post(f"/ui/cases/{their_case}/decide", data={"decision": "approve"})
        assert refused.status_code == 403
        accepted = as_reviewer.post(f"/ui/cases/{my_case}/decide", data={"decision": "approve"})
        assert accepted.status_code == 303 and accepted.headers["location"].endswith("?done=approve")
    with server.client() as client:
        assert [d["reviewer"] for d in _case(client, my_case)["decisions"]] == [reviewer[0]]
        assert _case(client, their_case)["decisions"] == []


def test_a_reviewer_lands_on_its_cases_and_an_operator_on_the_runs(server: ServerProcess) -> None:
    with server.client() as client:
        reviewer = make_key(client, ["REVIEWER"])
        operator = make_key(client, ["OPERATOR"])
    with httpx.Client(base_url=server.url, verify=SHARED_TLS) as browser_like:
        for (key_id, secret), landing in ((reviewer, "/ui/cases"), (operator, "/ui/runs")):
            answer = browser_like.post("/ui/login", data={"keyId": key_id, "keySecret": secret})
            assert answer.status_code == 303 and answer.headers["location"] == landing, key_id
        asked = browser_like.post(
            "/ui/login", data={"keyId": reviewer[0], "keySecret": reviewer[1], "next": "/ui/operations"}
        )
        assert asked.headers["location"] == "/ui/operations", "a page asked for is where the login goes"


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"decision": "reject"}, "reason"),
        ({"decision": "revision", "reason": "  "}, "reason"),
        ({"reason": "why not"}, "decision"),
        ({"decision": "maybe"}, "decision"),
    ],
)
def test_a_decision_missing_what_it_needs_is_a_400_naming_the_field(
    server: ServerProcess, form: dict[str, str], field: str
) -> None:
    with server.client() as client:
        workflow_id = _case_in_review(client, _case_definition(client, unique("q")), documents=DOCUMENTS)
        for path in ("decide", "documents/reg/decide"):
            answer = client.post(f"/ui/cases/{workflow_id}/{path}", data=form)
            assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html")
            assert f"<code>{field}</code>" in answer.text, path
        assert _case(client, workflow_id)["decisions"] == []


def test_a_case_of_a_definition_without_inputs_is_added_from_its_context_as_json(server: ServerProcess) -> None:
    queue = unique("q")
    with server.client() as client:
        name = _case_definition(client, queue)
        form = client.get(f"/ui/cases/add/{name}")
        assert form.status_code == 200 and 'name="context"' in form.text and "companyName" in form.text
        for sent, field in (("{not json", "context"), ("[1]", "context"), ('{"entity": {"type": "robot"}}', "context")):
            refused = client.post(f"/ui/cases/add/{name}", data={"context": sent})
            assert refused.status_code == 400 and f'data-field="{field}"' in refused.text, sent
        context = '{"entity": {"data": {"companyName": "Typed Ltd"}}, "documents": [{"type": "registration"}]}'
        added = client.post(f"/ui/cases/add/{name}", data={"context": context})
        assert added.status_code == 303, added.text
        workflow_id = added.headers["location"].split("?")[0].rsplit("/", 1)[-1]
        found = _case(client, workflow_id)
    assert found["entity"]["name"] == "Typed Ltd" and found["queue"] == queue
    assert found["context"]["documents"][0]["id"], "each document is given an id"


@pytest.mark.parametrize(("query", "field"), [({"state": "sleeping"}, "state"), ({"page": "0"}, "page")])
def test_a_bad_list_address_is_a_400_naming_its_field(server: ServerProcess, query: dict[str, str], field: str) -> None:
    with server.client() as client:
        answer = client.get("/ui/cases", params=query)
    assert answer.status_code == 400 and f"<code>{field}</code>" in answer.text
