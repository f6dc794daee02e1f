"""A ``baton serve`` of each store for this package's HTTP tests, configured for webhooks that retry quickly.

Its own server, not the session's: a server-wide subscription gets every run's end, so it must not see other
files' runs (nor make their ends write signals).
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ServerProcess, running_server
from tests.webhooks.receiver import Receiver, running_receiver

SERVER_SECRET = "the-server-secret"
WEBHOOK_ENV = {
    "BATON_WEBHOOK_SECRET": SERVER_SECRET,
    "BATON_WEBHOOK_RETRY_WINDOW_MS": "1500",
    "BATON_WEBHOOK_BACKOFF_INITIAL_MS": "100",
    "BATON_WEBHOOK_BACKOFF_MAX_MS": "200",
    "BATON_WEBHOOK_POLL_INTERVAL_MS": "50",
    "BATON_WEBHOOK_ENVIRONMENT": "test",
}


@pytest.fixture(scope="module")
def hook_server(server_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with running_server(server_store, tmp_path_factory.mktemp(f"webhooks-{server_store}"), WEBHOOK_ENV) as process:
        yield process


@pytest.fixture
def http(hook_server: ServerProcess) -> Iterator[httpx.Client]:
    hook_server.assert_running()
    with hook_server.client(timeout=30.0) as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running
