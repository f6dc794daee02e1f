"""A server killed (SIGKILL) with a delivery pending delivers it once it is back: nothing recorded is lost."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.webhooks.conftest import SERVER_SECRET, WEBHOOK_ENV
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_api import _run_to_end, _subscribe, _until_status

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow, pytest.mark.own_server]


def test_a_pending_delivery_survives_a_kill(store_url: str, tmp_path: Path, receiver: Receiver) -> None:
    receiver.answer = lambda body: 503
    env = {**WEBHOOK_ENV, "BATON_WEBHOOK_RETRY_WINDOW_MS": "60000", "BATON_WEBHOOK_BACKOFF_MAX_MS": "300"}
    server = ServerProcess(store_url, tmp_path / "server.log", env=env)
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=30.0) as http:
            _subscribe(http, receiver.url)
            workflow_id = _run_to_end(http, "crash")
            receiver.wait_for(workflow_id, 1, answered=503)  # attempted, refused: pending with a retry due
            pending = _until_status(http, workflow_id, "pending")
            assert pending["attempts"]
        server.kill()
        receiver.answer = lambda body: 200
        assert receiver.of_run(workflow_id) == []

        server.start()
        with httpx.Client(base_url=server.url, timeout=30.0) as http:
            [end] = receiver.wait_for(workflow_id, 1, timeout=30.0)
            delivered = _until_status(http, workflow_id, "delivered")
    finally:
        server.stop()
    assert end.signed_with(SERVER_SECRET)
    assert end.body["id"] == pending["id"] == delivered["id"]
    assert len(delivered["attempts"]) > len(pending["attempts"])
