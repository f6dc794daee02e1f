"""The runs list in a real browser against a real ``baton serve``: status counts that match the runs, each filter
(workflow, version, status, correlation id, entity, time range, free text) narrowing the list to the right runs,
paging older and newer, the live refresh showing a run started elsewhere without a reload; and, over plain HTTP,
a 400 naming each bad filter."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.access.helpers import make_key
from tests.ballerine.support import business, run_body, start_run, waiting_workflow
from tests.conftest import ServerProcess
from tests.dashboard.conftest import log_in, screenshot
from tests.helpers import register, start, unique

ROWS = "table.runs tbody tr[data-run]"


def _inline(ref: str, expression: str) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "INLINE",
        "inputParameters": {"evaluatorType": "javascript", "expression": expression},
    }


def _versions(client: httpx.Client, name: str) -> None:
    """Version 1 waits at a worker step no one works (RUNNING), 2 completes at once, 3 fails at once."""
    register(client, {"name": name, "version": 1, "tasks": [{"name": unique("t"), "taskReferenceName": "t"}]})
    register(client, {"name": name, "version": 2, "tasks": [_inline("done", "'done'")]})
    register(client, {"name": name, "version": 3, "tasks": [_inline("boom", "(function () { throw 'no'; })()")]})


def _wait_for_status(client: httpx.Client, workflow_id: str, status: str) -> None:
    deadline = time.monotonic() + 15
    while (found := client.get(f"/api/workflow/{workflow_id}", params={"includeTasks": "false"}).json())[
        "status"
    ] != status:
        assert time.monotonic() < deadline, f"{workflow_id} is {found['status']}, not {status}"
        time.sleep(0.05)


def _listed(client: httpx.Client, **filters: str) -> list[str]:
    """The ids of the runs the list shows for these filters, in its order (over HTTP, the page as served)."""
    answer = client.get("/ui/runs", params=filters)
    assert answer.status_code == 200, answer.text
    return re.findall(r'<tr data-run="([^"]+)"', answer.text)


def _shown(page: Page) -> list[str]:
    ids: list[str] = page.locator(ROWS).evaluate_all("rows => rows.map(r => r.dataset.run)")
    return ids


def test_the_runs_list_counts_filters_searches_and_pages(server: ServerProcess, page: Page) -> None:
    name, needle = unique("dash_list"), unique("needle")
    with server.client() as client:
        _versions(client, name)
        waiting = [start(client, name, {"n": n}, version=1, correlationId=f"{name}-c{n}") for n in range(27)]
        completed = [start(client, name, {"n": n}, version=2) for n in range(3)]
        failed = start(client, name, {"note": needle}, version=3, correlationId=f"{name}-needle")
        for workflow_id in waiting[:2]:
            assert client.delete(f"/api/workflow/{workflow_id}", params={"reason": "test"}).status_code == 200
        for workflow_id in completed:
            _wait_for_status(client, workflow_id, "COMPLETED")
        _wait_for_status(client, failed, "FAILED")
    everything = [failed, *reversed(completed), *reversed(waiting)]
    log_in(page, server.url)

    page.fill("input[name=workflowType]", name)
    page.click("form.filters button[type=submit]")
    expect(page.locator(".total")).to_have_text("31 runs")
    counts = {"": "31", "RUNNING": "25", "TERMINATED": "2", "COMPLETED": "3", "FAILED": "1", "PAUSED": "0"}
    for status, count in counts.items():
        expect(page.locator(f"a[data-status='{status}'] .count")).to_have_text(count)
    expect(page.locator(ROWS)).to_have_count(25)
    assert _shown(page) == everything[:25]
    screenshot(page, "runs")

    page.click("a[rel=next]")
    expect(page.locator(ROWS)).to_have_count(6)
    assert _shown(page) == everything[25:]
    expect(page.locator("a[rel=next]")).to_have_count(0)
    page.click("a[rel=prev]")
    expect(page.locator(ROWS)).to_have_count(25)
    assert _shown(page) == everything[:25]
    expect(page.locator("a[rel=prev]")).to_have_count(0)

    page.click("a[data-status=TERMINATED]")
    expect(page.locator(ROWS)).to_have_count(2)
    assert set(_shown(page)) == set(waiting[:2])
    expect(page.locator(".total")).to_have_text("2 runs")

    page.goto(f"{server.url}/ui/runs?workflowType={name}")
    page.fill("input[name=version]", "2")
    page.click("form.filters button[type=submit]")
    expect(page.locator(ROWS)).to_have_count(3)
    assert _shown(page) == list(reversed(completed))
    expect(page.locator("a[data-status=COMPLETED] .count")).to_have_text("3")
    expect(page.locator("a[data-status=RUNNING] .count")).to_have_text("0")

    page.goto(f"{server.url}/ui/runs?workflowType={name}")
    page.fill("input[name=correlationId]", f"{name}-c5")
    page.click("form.filters button[type=submit]")
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(f"tr[data-run='{waiting[5]}']")).to_be_visible()

    page.goto(f"{server.url}/ui/runs")
    page.fill("input[name=freeText]", needle)
    page.click("form.filters button[type=submit]")
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(f"tr[data-run='{failed}']")).to_be_visible()
    expect(page.locator("a[data-status=FAILED] .count")).to_have_text("1")

    page.goto(f"{server.url}/ui/runs?workflowType={name}")
    page.click("a[rel=next]")
    page.set_viewport_size({"width": 375, "height": 800})
    expect(page.locator(ROWS)).to_have_count(6)
    screenshot(page, "runs-phone", width=375)


def test_the_entity_and_time_range_filters_narrow_the_list(server: ServerProcess) -> None:
    name = unique("dash_entity")
    with server.client() as client:
        register(client, waiting_workflow(name))
        acme = start_run(client, run_body(name, business(unique("acme"))))
        other = start_run(client, run_body(name, business(unique("other"))))
        assert _listed(client, workflowType=name) == [other["workflowRuntimeId"], acme["workflowRuntimeId"]]
        assert _listed(client, entity=acme["ballerineEntityId"]) == [acme["workflowRuntimeId"]]
        assert _listed(client, workflowType=name, entity=other["ballerineEntityId"]) == [other["workflowRuntimeId"]]
        assert _listed(client, entity="no-such-entity") == []

        timed = unique("dash_timed")
        register(client, waiting_workflow(timed))
        earlier = start(client, timed)
        started_ms = client.get(f"/api/workflow/{earlier}", params={"includeTasks": "false"}).json()["createTime"]
        boundary = datetime.fromtimestamp(started_ms // 1000 + 1, UTC)
        while time.time() < boundary.timestamp():  # the next run starts in a later second than the first
            time.sleep(0.02)
        later = start(client, timed)
        cut = boundary.strftime("%Y-%m-%dT%H:%M:%S")
        assert _listed(client, workflowType=timed, startedAfter=cut) == [later]
        assert _listed(client, workflowType=timed, startedBefore=cut) == [earlier]
        day_before = datetime.fromtimestamp(started_ms / 1000 - 86_400, UTC).strftime("%Y-%m-%dT%H:%M")
        assert _listed(client, workflowType=timed, startedAfter=day_before) == [later, earlier]


def test_the_list_refreshes_itself_with_a_run_started_elsewhere(server: ServerProcess, page: Page) -> None:
    name = unique("dash_live")
    with server.client() as client:
        register(client, waiting_workflow(name))
        first = start(client, name)
    log_in(page, server.url)
    page.goto(f"{server.url}/ui/runs?workflowType={name}")
    expect(page.locator(ROWS)).to_have_count(1)
    expect(page.locator(".live-state")).to_have_text("every 4 s")
    page.evaluate("window.notReloaded = true")

    with server.client() as client:
        second = start(client, name)
    expect(page.locator(ROWS)).to_have_count(2)
    assert _shown(page) == [second, first]
    expect(page.locator("a[data-status=RUNNING] .count")).to_have_text("2")
    assert page.evaluate("window.notReloaded") is True

    page.uncheck("#live-refresh")
    expect(page.locator(".live-state")).to_have_text("off")
    page.reload()
    expect(page.locator("#live-refresh")).not_to_be_checked()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"status": "DONE"}, "status"),
        ({"version": "two"}, "version"),
        ({"version": "0"}, "version"),
        ({"startedAfter": "yesterday"}, "startedAfter"),
        ({"startedBefore": "2026-13-01T00:00"}, "startedBefore"),
        ({"startedAfter": "2026-12-02T00:00", "startedBefore": "2026-12-01T00:00"}, "startedBefore"),
        ({"entity": "e" * 600}, "entity"),
        ({"freeText": "x " * 200}, "freeText"),
        ({"older": "not-a-place"}, "older"),
        ({"newer": "12-abc", "older": "11-abc"}, "newer"),
    ],
)
def test_a_bad_filter_is_a_400_naming_its_field(server: ServerProcess, query: dict[str, str], field: str) -> None:
    with server.client() as client:
        for path in ("/ui/runs", "/ui/runs-live"):
            answer = client.get(path, params=query)
            assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html")
            assert f"<code>{field}</code>" in answer.text


def test_the_list_and_its_live_part_are_for_those_who_may_read_runs(server: ServerProcess) -> None:
    with server.client() as client:
        viewer, worker = make_key(client, ["VIEWER"]), make_key(client, ["WORKER"])
    with server.client() as anonymous:
        del anonymous.headers["Authorization"]
        refused = anonymous.get("/ui/runs-live")
        assert refused.status_code == 401 and 'id="keyId"' in refused.text
    with server.client(headers={"Authorization": f"Bearer {worker[0]}:{worker[1]}"}) as as_worker:
        for path in ("/ui/runs", "/ui/runs-live"):
            forbidden = as_worker.get(path)
            assert forbidden.status_code == 403 and "<table" not in forbidden.text
    with server.client(headers={"Authorization": f"Bearer {viewer[0]}:{viewer[1]}"}) as as_viewer:
        shown = as_viewer.get("/ui/runs-live", params={"status": "RUNNING"})
        assert shown.status_code == 200 and '<table class="runs">' in shown.text and "<html" not in shown.text
