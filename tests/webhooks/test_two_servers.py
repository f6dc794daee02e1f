"""Two servers on one PostgreSQL share the deliveries: each is sent, and none is sent twice at once."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ServerProcess
from tests.helpers import register, start
from tests.webhooks.conftest import WEBHOOK_ENV
from tests.webhooks.receiver import Receiver
from tests.webhooks.test_api import _flow, _subscribe

pytestmark = [pytest.mark.timeout(120), pytest.mark.slow, pytest.mark.own_server]

RUNS = 30


def test_two_servers_deliver_each_event_once(postgres_url: str, tmp_path: Path, receiver: Receiver) -> None:
    servers = [ServerProcess(postgres_url, tmp_path / f"server-{n}.log", env=WEBHOOK_ENV) for n in range(2)]
    for server in servers:
        server.start()
    try:
        clients = [server.client(timeout=30.0) for server in servers]
        _subscribe(clients[0], receiver.url)
        time.sleep(0.5)  # the other server hears of it by NOTIFY (at the latest within outbox_relay_after_ms)
        register(clients[0], _flow("two_servers"))
        run_ids = []
        for n in range(RUNS):
            http = clients[n % 2]  # each server ends half the runs, and both send
            workflow_id = start(http, "two_servers", {"entity": {"id": f"e{n}"}})
            assert http.post(f"/api/tasks/{workflow_id}/review/COMPLETED", json={}).status_code == 200
            run_ids.append(workflow_id)
        for workflow_id in run_ids:
            receiver.wait_for(workflow_id, 1, timeout=30.0)
        for client in clients:
            client.close()
    finally:
        for server in servers:
            server.stop()
    ids = Counter(r.body["id"] for r in receiver.received if r.body["workflowRuntimeId"] in run_ids)
    assert len(ids) == RUNS and set(ids.values()) == {1}
