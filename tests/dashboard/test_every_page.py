"""Every dashboard page, opened the way a person on a phone with a dark system theme would: each answers 200,
scrolls down but never sideways at 375 px, is drawn dark, and can be walked from the keyboard (the first Tab
reaches a link of the navigation). The areas' own files test what each page does; this one holds them all to
the issue's "at phone width, from the keyboard, in light and dark"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from tests.ballerine.support import business, run_body, start_run, waiting_workflow
from tests.conftest import ServerProcess
from tests.dashboard.conftest import PATIENCE_MS, log_in, screenshot, wait_for_task
from tests.helpers import register, unique


@pytest.fixture
def dark_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(color_scheme="dark")
    context.set_default_timeout(PATIENCE_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _pages(server: ServerProcess) -> list[str]:
    """One of each kind of page, over a case definition of two versions, a run of it waiting at its HUMAN step
    and a queue listing its cases."""
    queue, name = unique("q"), unique("dash_every")
    with server.client() as client:
        definition = {**waiting_workflow(name, human=True), "case": {"entityType": "business", "queue": queue}}
        register(client, definition)
        register(client, {**definition, "version": 2, "description": "the second version"})
        saved = client.post(
            "/api/v1/filters", json={"name": unique("Q"), "entity": "businesses", "query": {"queue": queue}}
        )
        assert saved.status_code == 201, saved.text
        workflow_id = start_run(client, run_body(name, business(unique("acme"))))["workflowRuntimeId"]
        wait_for_task(client, workflow_id, "wait_here")
    return [
        "/ui/runs",
        f"/ui/runs/{workflow_id}",
        "/ui/definitions",
        f"/ui/definitions/{name}/2",
        f"/ui/definitions/new?from={name}",
        f"/ui/definitions/{name}/diff?from=1&to=2",
        "/ui/start",
        f"/ui/start/{name}",
        "/ui/cases",
        f"/ui/cases?queue={saved.json()['id']}",
        f"/ui/cases/{workflow_id}",
        f"/ui/cases/add/{name}",
        "/ui/operations",
        "/ui/operations/queues",
        "/ui/operations/webhooks",
        "/ui/operations/keys",
        "/ui/operations/audit",
        "/ui/operations/charts",
    ]


def _luminance(css_colour: str) -> float:
    """0 (black) to 1 (white), from ``rgb(r, g, b)``."""
    red, green, blue = (int(part) for part in css_colour[css_colour.index("(") + 1 : -1].split(",")[:3])
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255


def test_every_page_fits_a_phone_in_the_dark_and_starts_at_the_navigation(
    server: ServerProcess, dark_page: Page
) -> None:
    pages = _pages(server)
    log_in(dark_page, server.url)
    problems: list[str] = []
    for path in pages:
        answer = dark_page.goto(f"{server.url}{path}")
        assert answer is not None and answer.status == 200, path
        dark_page.set_viewport_size({"width": 375, "height": 800})
        width = dark_page.evaluate("document.documentElement.scrollWidth")
        if width > 375:
            problems.append(f"{path}: {width} px wide at phone width")
        background = dark_page.evaluate("getComputedStyle(document.body).backgroundColor")
        text = dark_page.evaluate("getComputedStyle(document.body).color")
        if not _luminance(background) < 0.2 < 0.6 < _luminance(text):
            problems.append(f"{path}: not dark ({text} on {background})")
        dark_page.keyboard.press("Tab")
        focused = dark_page.evaluate(
            "[document.activeElement.tagName, document.activeElement.closest('header') !== null]"
        )
        if focused != ["A", True]:
            problems.append(f"{path}: the first Tab reaches {focused}, not the navigation")
    assert problems == []
    dark_page.goto(f"{server.url}{pages[1]}")
    screenshot(dark_page, "run-dark")
