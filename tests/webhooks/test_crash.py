"""A server killed (SIGKILL) with a delivery pending delivers it once it is back: nothing recorded is lost; and a
state change committed before the kill, not yet told, is told after the restart."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.ballerine.support import business, register_kyb, run_body, start_run
from tests.ballerine.test_cases import check_worker, until_state
from tests.conftest import ServerProcess
from tests.helpers import unique
from tests.webhooks.conftest import SERVER_SECRET, WEBHOOK_ENV
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_api import _run_to_end, _subscribe, _until_status

pytestmark = [pytest.mark.timeout(90), pytest.mark.slow, pytest.mark.own_server]


def _attempted_and_pending(http: httpx.Client, workflow_id: str) -> dict[str, Any]:
    """The run's delivery once its refused attempt is recorded (the receiver hears the POST a moment before the
    server records how it was answered)."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        pending = _until_status(http, workflow_id, "pending")
        if pending["attempts"]:
            return pending
        time.sleep(0.05)
    raise AssertionError(f"the attempt on {workflow_id} was never recorded: {pending}")


def test_a_pending_delivery_survives_a_kill(store_url: str, tmp_path: Path, receiver: Receiver) -> None:
    receiver.answer = lambda body: 503
    env = {**WEBHOOK_ENV, "BATON_WEBHOOK_RETRY_WINDOW_MS": "60000", "BATON_WEBHOOK_BACKOFF_MAX_MS": "300"}
    server = ServerProcess(store_url, tmp_path / "server.log", env=env)
    server.start()
    try:
        with server.client(timeout=30.0) as http:
            _subscribe(http, receiver.url)
            workflow_id = _run_to_end(http, "crash")
            receiver.wait_for(workflow_id, 1, answered=503)  # attempted, refused: pending with a retry due
            pending = _attempted_and_pending(http, workflow_id)
        server.kill()
        receiver.answer = lambda body: 200
        assert receiver.of_run(workflow_id) == []

        server.start()
        with server.client(timeout=30.0) as http:
            [end] = receiver.wait_for(workflow_id, 1, timeout=30.0)
            delivered = _until_status(http, workflow_id, "delivered")
    finally:
        server.stop()
    assert end.signed_with(SERVER_SECRET)
    assert end.body["id"] == pending["id"] == delivered["id"]
    assert len(delivered["attempts"]) > len(pending["attempts"])


def _sql(store_url: str, statement: str) -> None:
    """One statement on the server's database, from outside it."""
    if store_url.startswith("sqlite"):
        with sqlite3.connect(store_url.removeprefix("sqlite:///"), timeout=10) as conn:
            conn.execute(statement)
        return

    async def run() -> None:
        conn = await asyncpg.connect(store_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(run())


def test_a_state_change_decided_before_a_kill_is_told_after_the_restart(
    store_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    env = {**WEBHOOK_ENV, "BATON_OUTBOX_RELAY_AFTER_MS": "300"}
    server = ServerProcess(store_url, tmp_path / "server.log", env=env)
    server.start()
    try:
        with server.client(timeout=30.0) as http:
            name, _, check = register_kyb(http)
            events = ["workflow.state.changed", "workflow.completed"]
            config = {"subscriptions": [{"type": "webhook", "url": receiver.url, "events": events}]}
            run_id = start_run(http, run_body(name, business(unique("acme")), config=config))["workflowRuntimeId"]
            # What was last told of runs cannot be read now: the worker's result commits, its signal is not acted on.
            _sql(store_url, "ALTER TABLE webhook_run_states RENAME TO webhook_run_states_away")
            check_worker(http, check, {"passed": True})
            until_state(http, run_id, "manual_review")
            time.sleep(0.5)
            assert receiver.of_run(run_id, answered=None) == []
        server.kill()
        _sql(store_url, "ALTER TABLE webhook_run_states_away RENAME TO webhook_run_states")

        server.start()
        [changed] = receiver.wait_for(run_id, 1, timeout=30.0)
    finally:
        server.stop()
    assert changed.body["eventName"] == "workflow.state.changed" and changed.body["state"] == "manual_review"
    assert changed.signed_with(SERVER_SECRET)
