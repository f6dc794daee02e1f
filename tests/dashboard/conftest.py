"""One headless Chromium a test module (Debian's headless shell, driven by Playwright; ``make browser`` installs
it), a fresh context (its own cookies) and page per test, and the steps every dashboard test shares: log in, wait
for a run.

Not one a session: while Playwright's sync API is open it marks its event loop as running in the main thread, and
every async test after it (pytest-asyncio's) would fail to start its own; closed with its module, it leaves none.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.helpers import ADMIN_KEY_ID, ADMIN_KEY_SECRET

CHROMIUM = "/usr/bin/chromium-headless-shell"
"""Debian's Chromium as its headless shell (package ``chromium-headless-shell``): the same build's Blink and V8
without the desktop browser around them, the binary Playwright itself runs headless tests in. The full ``chromium``
in its headless mode spent three times the CPU on the same tests (see "The suite's time" in docs/design.md)."""
SCREENSHOTS = Path(__file__).parents[2] / "docs" / "screenshots"
"""Where ``screenshot`` leaves each page's picture, which the README shows, when ``BATON_SCREENSHOTS`` is set
(``make screenshots``); otherwise none is taken, so a test run leaves the tree as it was."""
PATIENCE_MS = 20_000
"""How long a page action or an ``expect`` waits: generous, as the suite shares two cores with servers and workers."""
expect.set_options(timeout=PATIENCE_MS)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One browser per test file. Not per session, although a launch costs about a CPU-second: Playwright's sync API
    keeps an event loop running in the thread while it is open, and every asyncio test the process ran after the
    browser tests then failed with "Cannot run the event loop while another loop is running"."""
    with sync_playwright() as playwright:
        # Root in a container: Chromium's own sandbox needs namespaces it may not have.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(PATIENCE_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def screenshot(page: Page, name: str, *, width: int = 1280) -> None:
    """The page as a person sees it ``width`` px wide, as ``<name>.png`` in ``SCREENSHOTS`` when
    ``BATON_SCREENSHOTS`` is set (``make screenshots``): written whole or not at all, as a test of the other store
    may take the same picture at the same time. Otherwise only the width is set: pictures nobody looks at cost the
    browser tests 6 % of their wall time."""
    page.set_viewport_size({"width": width, "height": 800})
    if not os.environ.get("BATON_SCREENSHOTS"):
        return
    picture = page.screenshot(full_page=True)
    folder = SCREENSHOTS
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{name}.{os.getpid()}.png"
    partial.write_bytes(picture)
    partial.replace(folder / f"{name}.png")


def fits_a_phone(page: Page) -> None:
    """At 375 px the page scrolls down, never sideways (wide tables and graphs scroll inside their own box)."""
    page.set_viewport_size({"width": 375, "height": 800})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{page.url} is {width} px wide at phone width"
    page.set_viewport_size({"width": 1280, "height": 800})


def log_in(page: Page, base_url: str, key: tuple[str, str] = (ADMIN_KEY_ID, ADMIN_KEY_SECRET)) -> None:
    """Opens the dashboard, is asked to log in, and logs in with ``key``: lands on the runs list."""
    page.goto(f"{base_url}/")
    page.fill("#keyId", key[0])
    page.fill("#keySecret", key[1])
    page.click("button[type=submit]")
    page.wait_for_url(f"{base_url}/ui/runs")


def wait_for_task(client: httpx.Client, workflow_id: str, ref: str, timeout: float = 15.0) -> dict[str, Any]:
    """The run once it has a task of ``ref`` (its system steps run beside the API)."""
    deadline = time.monotonic() + timeout
    while True:
        run: dict[str, Any] = client.get(f"/api/workflow/{workflow_id}").json()
        if any(task["referenceTaskName"] == ref for task in run["tasks"]):
            return run
        assert time.monotonic() < deadline, f"no task {ref} in time: {run['status']} {run['tasks']}"
        time.sleep(0.05)
