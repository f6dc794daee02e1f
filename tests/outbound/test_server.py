"""A real ``baton serve`` of each store, allowed only 127.0.0.2: its HTTP and EVENT tasks refuse the rest."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import running_server
from tests.helpers import register, start, unique, wait_for_status
from tests.outbound.receivers import Receiver, call_url, receiving

ALLOWED = "127.0.0.2/32"
SETTING = "allow it with BATON_OUTBOUND_ALLOW_NETWORKS"


@pytest.fixture(scope="module")
def guarded(server_store: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    folder = tmp_path_factory.mktemp(f"outbound-{server_store}")
    allowed = {"BATON_OUTBOUND_ALLOW_NETWORKS": ALLOWED}
    with running_server(server_store, folder, allowed) as process, process.client(timeout=30) as client:
        yield client


@pytest.fixture
def allowed() -> Iterator[Receiver]:
    with receiving("127.0.0.2") as receiver:
        yield receiver


@pytest.fixture
def loopback() -> Iterator[Receiver]:
    with receiving("127.0.0.1") as receiver:
        yield receiver


def _refused(client: httpx.Client, url: str) -> str:
    task = call_url(client, url, "FAILED")
    assert task["status"] == "FAILED_WITH_TERMINAL_ERROR" and task["retryCount"] == 0
    reason: str = task["reasonForIncompletion"]
    assert reason.startswith(f"GET {url}: refused: ") and reason.endswith(SETTING)
    assert reason in task["runReason"]
    return reason


def test_a_loopback_url_fails_the_task_terminally_naming_the_address(guarded: httpx.Client, loopback: Receiver) -> None:
    reason = _refused(guarded, f"{loopback.url}/x")
    assert f"refused: 127.0.0.1 is a loopback address; {SETTING}" in reason
    assert loopback.paths == []


def test_localhost_is_refused_after_resolving_it(guarded: httpx.Client, loopback: Receiver) -> None:
    port = loopback.url.rsplit(":", 1)[1]
    reason = _refused(guarded, f"http://localhost:{port}/x")
    assert "refused: localhost resolves to " in reason and "a loopback address" in reason
    assert loopback.paths == []


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://[::1]:9/", "::1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a link-local (cloud metadata) address"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254 is a cloud metadata address"),
        ("http://0.0.0.0:9/", "0.0.0.0 is an unspecified"),
    ],
)
def test_ipv6_loopback_and_metadata_addresses_are_refused(guarded: httpx.Client, url: str, said: str) -> None:
    assert f"refused: {said}" in _refused(guarded, url)


def test_an_allowed_network_is_called(guarded: httpx.Client, allowed: Receiver) -> None:
    task = call_url(guarded, f"{allowed.url}/fine", "COMPLETED")
    assert task["outputData"]["response"]["body"] == {"host": allowed.url.removeprefix("http://"), "path": "/fine"}


def test_a_redirect_to_a_refused_address_is_refused(
    guarded: httpx.Client, allowed: Receiver, loopback: Receiver
) -> None:
    url = f"{allowed.url}/redirect?to={loopback.url}/secret"
    reason = _refused(guarded, url)
    assert "refused: 127.0.0.1 is a loopback address" in reason
    assert allowed.paths == [f"/redirect?to={loopback.url}/secret"] and loopback.paths == []


def test_an_event_webhook_sink_to_a_refused_address_fails_its_task_at_once(
    guarded: httpx.Client, loopback: Receiver, allowed: Receiver
) -> None:
    name = unique("outbound_event")
    steps = [
        {"name": "tell", "taskReferenceName": "tell", "type": "EVENT", "sink": "${workflow.input.sink}"},
    ]
    register(guarded, {"name": name, "version": 1, "tasks": steps})
    run = wait_for_status(guarded, start(guarded, name, {"sink": f"webhook:{loopback.url}/hook"}), "FAILED")
    [task] = run["tasks"]
    assert task["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert task["reasonForIncompletion"] == (
        f"POST {loopback.url}/hook: refused: 127.0.0.1 is a loopback address; {SETTING}"
    )
    assert loopback.paths == []
    run = wait_for_status(guarded, start(guarded, name, {"sink": f"webhook:{allowed.url}/hook"}), "COMPLETED")
    assert allowed.paths == ["/hook"]
