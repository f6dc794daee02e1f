"""The operations pages in a real browser against a real ``baton serve``: a task queue's depth and the worker that
polled it; a failed webhook delivery listed, opened and redelivered; an application and a key created (the secret
shown once), the key revoked and then refused by the API; the audit log listing those actions; the charts with a
point for the runs of this minute; and what a VIEWER or an OPERATOR may not open."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.access.helpers import key_headers, make_key
from tests.conftest import ServerProcess, running_server
from tests.dashboard.conftest import log_in, screenshot
from tests.helpers import ADMIN_KEY_ID, ADMIN_KEY_SECRET, SHARED_TLS, register, start, unique, wait_for_status
from tests.webhooks.conftest import WEBHOOK_ENV
from tests.webhooks.receiver import Receiver, running_receiver

pytestmark = pytest.mark.timeout(120)


def _accept(dialog: Dialog) -> None:
    dialog.accept()


def _inline_flow(client: httpx.Client) -> str:
    name = unique("ops_quick")
    register(
        client,
        {
            "name": name,
            "version": 1,
            "tasks": [
                {
                    "name": "say",
                    "taskReferenceName": "say",
                    "type": "INLINE",
                    "inputParameters": {"evaluatorType": "javascript", "expression": "'done'"},
                }
            ],
        },
    )
    return name


def _csrf(client: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


@contextmanager
def _session(server: ServerProcess, key: tuple[str, str]) -> Iterator[httpx.Client]:
    """A plain HTTP client logged in to the dashboard with ``key`` (its session cookie kept)."""
    with httpx.Client(base_url=server.url, verify=SHARED_TLS) as client:
        logged_in = client.post("/ui/login", data={"keyId": key[0], "keySecret": key[1], "next": "/ui/runs"})
        assert logged_in.status_code == 303, logged_in.text
        yield client


def test_the_overview_and_a_task_queue_with_its_depth_and_the_worker_that_polled_it(
    server: ServerProcess, page: Page
) -> None:
    task_type, worker = unique("ops_queue"), unique("worker")
    with server.client() as client:
        name = unique("ops_queued")
        register(
            client,
            {"name": name, "version": 1, "tasks": [{"name": task_type, "taskReferenceName": "w", "type": "SIMPLE"}]},
        )
        for _ in range(3):
            start(client, name)
        polled = client.get(f"/api/tasks/poll/{task_type}", params={"workerid": worker})
        assert polled.status_code == 200, polled.text
        deadline = time.monotonic() + 15
        while not client.get("/api/tasks/queue/polldata", params={"taskType": task_type}).json():
            assert time.monotonic() < deadline, "the poll was not recorded"
            time.sleep(0.05)

    log_in(page, server.url)
    page.click("nav a[href='/ui/operations']")
    expect(page.locator("h1")).to_have_text("Operations")
    for part in ("queues", "webhooks", "charts", "keys", "audit"):
        expect(page.locator(f".ops-parts a[href='/ui/operations/{part}']")).to_be_visible()
    screenshot(page, "operations")

    page.click(".ops-parts a[href='/ui/operations/queues']")
    row = page.locator(f"tr[data-task-type='{task_type}']")
    expect(row.locator(".depth")).to_have_text("2")
    expect(row.locator(f"li[data-worker='{worker}']")).to_contain_text(datetime.now(UTC).strftime("%Y-%m-%d"))
    screenshot(page, "operations-queues")


@pytest.fixture(scope="module")
def hook_server(server_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A server of its own whose webhooks give up quickly: a server-wide webhook hears every run's end."""
    with running_server(server_store, tmp_path_factory.mktemp(f"ops-webhooks-{server_store}"), WEBHOOK_ENV) as process:
        yield process


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


def _delivery_of(client: httpx.Client, workflow_id: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        found = client.get("/api/v1/webhooks/deliveries", params={"workflowRuntimeId": workflow_id, "status": status})
        assert found.status_code == 200, found.text
        if found.json():
            delivery: dict[str, Any] = found.json()[0]
            return delivery
        assert time.monotonic() < deadline, f"no {status} delivery of {workflow_id}"
        time.sleep(0.05)


def test_a_failed_webhook_delivery_is_listed_opened_and_redelivered(
    hook_server: ServerProcess, receiver: Receiver, page: Page
) -> None:
    receiver.answer = lambda body: 500
    with hook_server.client() as client:
        made = client.post("/api/v1/webhooks", json={"url": receiver.url, "events": ["workflow.completed"]})
        assert made.status_code == 201, made.text
        workflow_id = start(client, _inline_flow(client))
        failed = _delivery_of(client, workflow_id, "failed")

    log_in(page, hook_server.url)
    page.goto(f"{hook_server.url}/ui/operations/webhooks")
    expect(page.locator(f"tr[data-webhook='{made.json()['id']}']")).to_contain_text(receiver.url)
    page.click("a[data-status='failed']")
    row = page.locator(f"tr[data-delivery='{failed['id']}']")
    expect(row).to_contain_text("failed")
    expect(row).to_contain_text("HTTP 500")
    expect(page.locator("table.deliveries tbody tr[data-delivery] .badge")).not_to_contain_text(["delivered"])
    screenshot(page, "operations-webhooks")

    row.locator("a").first.click()
    expect(page.locator("pre.request-body")).to_contain_text(workflow_id)
    expect(page.locator("table.attempts tbody tr[data-attempt]")).to_have_count(len(failed["attempts"]))
    receiver.answer = lambda body: 200
    page.once("dialog", _accept)
    page.click("button.action-redeliver")
    expect(page.locator(".notice")).to_contain_text("Sent again")
    receiver.wait_for(workflow_id, 1)
    with hook_server.client() as client:
        delivered = _delivery_of(client, workflow_id, "delivered")
    assert delivered["id"] == failed["id"] and delivered["attempts"][-1]["statusCode"] == 200
    page.reload()
    expect(page.locator("table.attempts tbody tr[data-attempt]").last).to_contain_text("HTTP 200")


def test_an_application_and_a_key_are_made_the_key_revoked_and_the_audit_log_lists_it(
    server: ServerProcess, page: Page
) -> None:
    name = unique("ops_app")
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/operations/keys")
    page.fill("#app-name", name)
    page.check("input[name='role_VIEWER']")
    page.click("form[action='/ui/operations/keys/applications'] button[type=submit]")
    expect(page.locator(".notice")).to_contain_text("created")
    application = page.locator("section.application", has=page.locator("h3", has_text=name))
    expect(application).to_contain_text("VIEWER")
    application_id = application.get_attribute("data-application")
    assert application_id

    application.locator("button.action-new-key").click()
    expect(page.locator("h1")).to_have_text("Key created")
    key_id = page.locator(".key-id").inner_text()
    secret = page.locator(".key-secret").inner_text()
    assert key_id and len(secret) >= 32
    api = httpx.Client(base_url=server.url, headers=key_headers((key_id, secret)), verify=SHARED_TLS)
    with api:
        assert api.get("/api/metadata/workflow").status_code == 200

        page.click("a[href^='/ui/operations/keys#']")
        row = page.locator(f"tr[data-key='{key_id}']")
        expect(row).to_contain_text("ACTIVE")
        assert secret not in page.content()
        screenshot(page, "operations-keys")
        page.once("dialog", _accept)
        row.locator("button.action-revoke").click()
        expect(page.locator(".notice")).to_contain_text(f"Key {key_id} revoked")
        expect(page.locator(f"tr[data-key='{key_id}'] .badge")).to_have_text("INACTIVE")
        assert api.get("/api/metadata/workflow").status_code == 401
    with server.client() as client:
        [stored] = [k for k in client.get(f"/api/applications/{application_id}/accessKeys").json() if k["id"] == key_id]
        assert stored["status"] == "INACTIVE"

    page.goto(f"{server.url}/ui/operations/audit")
    expect(page.locator(f"tr[data-target='{key_id}'][data-action='KEY_REVOKED']")).to_be_visible()
    expect(page.locator(f"tr[data-target='{key_id}'][data-action='KEY_CREATED']")).to_be_visible()
    expect(page.locator(f"tr[data-target='{application_id}'][data-action='APPLICATION_CREATED']")).to_contain_text(name)
    actions = page.locator("table.audit tbody tr[data-entry]").evaluate_all("rows => rows.map(r => +r.dataset.entry)")
    assert actions == sorted(actions, reverse=True)
    screenshot(page, "operations-audit")
    page.fill("input[name='targetId']", key_id)
    page.click("form.filters button[type=submit]")
    expect(page.locator("table.audit tbody tr[data-entry]")).to_have_count(2)
    expect(page.locator("table.audit tbody tr[data-entry]").first).to_have_attribute("data-action", "KEY_REVOKED")

    page.goto(f"{server.url}/ui/operations/audit?targetId={key_id}&limit=1")
    expect(page.locator("table.audit tbody tr[data-entry]")).to_have_count(1)
    expect(page.locator("table.audit tbody tr[data-entry]")).to_have_attribute("data-action", "KEY_REVOKED")
    page.click("a[rel=next]")
    expect(page.locator("table.audit tbody tr[data-entry]")).to_have_attribute("data-action", "KEY_CREATED")
    expect(page.locator("a[rel=next]")).to_have_count(1)
    page.click("a[rel=next]")
    expect(page.locator("table.audit tbody tr[data-entry]")).to_have_count(0)
    expect(page.locator("a[rel=next]")).to_have_count(0)


def _minute(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%H:%M")


def test_the_charts_show_the_runs_of_this_minute(server: ServerProcess, page: Page) -> None:
    with server.client() as client:
        name = _inline_flow(client)
        runs = [wait_for_status(client, start(client, name), "COMPLETED") for _ in range(3)]
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/operations/charts")
    for run in runs:
        started = page.locator(f"#runs-chart circle[data-series='started'][data-label='{_minute(run['createTime'])}']")
        completed = page.locator(f"#runs-chart circle[data-series='completed'][data-label='{_minute(run['endTime'])}']")
        assert float(started.get_attribute("data-value") or 0) >= 1
        assert float(completed.get_attribute("data-value") or 0) >= 1
    expect(page.locator("#runs-chart path.series-started")).to_have_attribute("d", re.compile(r"^M"))
    expect(page.locator("#latency-chart circle[data-series='p99']").first).to_be_attached()
    expect(page.locator("table.latency-by-type tr[data-task-type='INLINE']")).to_be_visible()
    screenshot(page, "operations-charts")


@pytest.mark.parametrize("role", ["VIEWER", "OPERATOR"])
def test_a_viewer_or_operator_sees_no_keys_or_audit_and_is_refused_them(
    server: ServerProcess, page: Page, role: str
) -> None:
    with server.client() as client:
        key = make_key(client, [role])
    log_in(page, server.url, key)
    page.goto(f"{server.url}/ui/operations")
    expect(page.locator(".ops-parts a[href='/ui/operations/queues']")).to_be_visible()
    expect(page.locator(".ops-parts a[href='/ui/operations/keys']")).to_have_count(0)
    expect(page.locator(".ops-parts a[href='/ui/operations/audit']")).to_have_count(0)
    for path in ("/ui/operations/keys", "/ui/operations/audit"):
        refused = page.goto(f"{server.url}{path}")
        assert refused is not None and refused.status == 403
        expect(page.locator("main")).to_contain_text("ADMIN")
    with _session(server, key) as session:
        csrf = _csrf(session, "/ui/operations")
        forged = session.post("/ui/operations/keys/applications", data={"csrf": csrf, "name": "x", "role_ADMIN": "on"})
        assert forged.status_code == 403
        redeliver = session.post("/ui/operations/webhooks/deliveries/none/redeliver", data={"csrf": csrf})
        assert redeliver.status_code == (403 if role == "VIEWER" else 404)


@pytest.mark.parametrize(
    ("method", "path", "form", "field"),
    [
        ("GET", "/ui/operations/audit?action=DANCED", None, "action"),
        ("GET", "/ui/operations/audit?targetKind=MOON", None, "targetKind"),
        ("GET", "/ui/operations/audit?before=-4", None, "before"),
        ("GET", "/ui/operations/audit?limit=5000", None, "limit"),
        ("GET", "/ui/operations/webhooks?status=lost", None, "status"),
        ("POST", "/ui/operations/keys/applications", {"name": "no roles"}, "roles"),
        ("POST", "/ui/operations/keys/applications", {"role_VIEWER": "on"}, "name"),
    ],
)
def test_a_bad_filter_or_form_is_a_400_naming_its_field(
    server: ServerProcess, method: str, path: str, form: dict[str, str] | None, field: str
) -> None:
    with _session(server, (ADMIN_KEY_ID, ADMIN_KEY_SECRET)) as session:
        if form is None:
            answer = session.get(path)
        else:
            answer = session.post(path, data={"csrf": _csrf(session, "/ui/operations/keys"), **form})
    assert answer.status_code == 400, answer.text
    assert field in answer.text
