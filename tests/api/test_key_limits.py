"""Limits per key through a real server with low limits configured: requests per second (429 with
``Retry-After``, in each surface's error shape), concurrent long polls, a flooding key that does not slow
another's requests, and the sizes of an HTTP-endpoint trigger's headers (431) and path (414).

Most tests run a server with auth off (``BATON_AUTH=false``), so a request's key is its client's address: each
test's clients connect from addresses of their own on the loopback network (127.0.0.x). One runs with auth on and
two access keys, whose budgets are their own from any address.
The limits hold nothing in the database, so one store is enough.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from baton.api.key_limits import KeyLimiter, TooManyRequests, limit_key
from baton.model.access import UNAUTHENTICATED_ADMIN
from baton.service.acting import acting_as
from tests.access.helpers import key_headers, make_key
from tests.conftest import ServerProcess, running_server
from tests.helpers import unique

pytestmark = pytest.mark.timeout(120)

LIMITS = {
    "BATON_AUTH": "false",
    "BATON_KEY_REQUESTS_PER_SECOND": "5",
    "BATON_KEY_REQUEST_BURST": "5",
    "BATON_KEY_MAX_LONG_POLLS": "2",
    "BATON_TRIGGER_MAX_HEADER_BYTES": "1024",
    "BATON_TRIGGER_MAX_PATH_BYTES": "256",
}


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("key-limits")
    with running_server("sqlite", folder, LIMITS) as process:
        yield process


@contextmanager
def client_from(server: ServerProcess, address: str) -> Iterator[httpx.Client]:
    """A client whose connections come from ``address`` (any 127.0.0.x reaches the server on 127.0.0.1)."""
    with server.client(transport=httpx.HTTPTransport(local_address=address)) as client:
        yield client


def test_over_the_rate_is_a_429_with_retry_after_in_each_surfaces_shape(limited: ServerProcess) -> None:
    with client_from(limited, "127.0.0.2") as client:
        answers = [client.get("/api/metadata/taskdefs") for _ in range(8)]
        assert [a.status_code for a in answers[:5]] == [200] * 5
        refused = answers[-1]
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        body = refused.json()
        assert body["status"] == 429 and body["retryable"] is True
        assert "127.0.0.2" in body["message"] and "5 a second" in body["message"]

        elsa = client.get("/elsa/api/workflow-instances")
        assert elsa.status_code == 429 and elsa.json()["statusCode"] == 429
        trigger = client.get("/workflows/anything")
        assert trigger.status_code == 429 and "message" in trigger.json()

        time.sleep(float(refused.headers["retry-after"]))
        assert client.get("/api/metadata/taskdefs").status_code == 200
    assert httpx.get(f"{limited.url}/health").status_code == 200


@pytest.mark.serial  # bounds the calm key's latency while another floods
def test_one_flooding_key_does_not_slow_another_keys_requests(limited: ServerProcess) -> None:
    stop = threading.Event()
    flood_answers: list[int] = []

    def flood() -> None:
        with client_from(limited, "127.0.0.3") as flooder:
            while not stop.is_set():
                flood_answers.append(flooder.get("/api/metadata/taskdefs").status_code)

    flooders = [threading.Thread(target=flood) for _ in range(2)]
    for thread in flooders:
        thread.start()
    latencies: list[float] = []
    statuses: list[int] = []
    try:
        time.sleep(0.3)
        with client_from(limited, "127.0.0.4") as calm:
            for _ in range(10):  # 4 a second: within its own limit of 5
                began = time.perf_counter()
                statuses.append(calm.get("/api/metadata/taskdefs").status_code)
                latencies.append(time.perf_counter() - began)
                time.sleep(0.25)
    finally:
        stop.set()
        for thread in flooders:
            thread.join()

    assert statuses == [200] * 10
    assert flood_answers.count(429) > 10 * flood_answers.count(200) > 0
    assert statistics.median(latencies) < 0.2, latencies


def test_a_key_holds_at_most_its_long_polls(limited: ServerProcess) -> None:
    task_type = unique("never_scheduled")
    path = f"/api/tasks/poll/batch/{task_type}"
    answers: list[int] = []

    def long_poll() -> None:
        with client_from(limited, "127.0.0.5") as poller:
            answers.append(poller.get(path, params={"timeout": 2500}).status_code)

    holders = [threading.Thread(target=long_poll) for _ in range(2)]
    for thread in holders:
        thread.start()
    time.sleep(0.8)
    with client_from(limited, "127.0.0.5") as same_key, client_from(limited, "127.0.0.6") as other_key:
        refused = same_key.get(path, params={"timeout": 2500})
        assert refused.status_code == 429, refused.text
        assert refused.headers["retry-after"] == "1" and "long polls" in refused.json()["message"]
        assert same_key.get(path, params={"timeout": 0}).status_code == 200
        assert other_key.get(path, params={"timeout": 100}).status_code == 200
        for thread in holders:
            thread.join()
        assert answers == [200, 200]
        assert same_key.get(path, params={"timeout": 100}).status_code == 200


def test_a_triggers_headers_and_path_are_bounded(limited: ServerProcess) -> None:
    with client_from(limited, "127.0.0.7") as client:
        big = client.post("/workflows/orders", headers={"X-Padding": "a" * 1100}, json={})
        assert big.status_code == 431, big.text
        assert "headers" in big.json()["message"] and "1024" in big.json()["message"]

        long = client.get("/workflows/" + "a" * 250)
        assert long.status_code == 414, long.text
        assert "256" in long.json()["message"]
        long_query = client.get("/workflows/orders", params={"q": "b" * 250})
        assert long_query.status_code == 414

        within = client.post("/workflows/orders", headers={"X-Padding": "a" * 100}, json={})
        assert within.status_code == 404 and "message" in within.json()

    with client_from(limited, "127.0.0.8") as client:
        elsewhere = client.get("/api/metadata/taskdefs", headers={"X-Padding": "a" * 1100})
        assert elsewhere.status_code == 200


@pytest.fixture(scope="module")
def limited_with_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """Auth on, so a request's budget is its access key's; the same burst, refilled so slowly (one request in
    20 s) that an emptied budget stays empty however long a loaded machine takes between two requests."""
    folder = tmp_path_factory.mktemp("key-limits-auth")
    limits = {name: value for name, value in LIMITS.items() if name != "BATON_AUTH"}
    limits["BATON_KEY_REQUESTS_PER_SECOND"] = "0.05"
    with running_server("sqlite", folder, limits) as process:
        yield process


def test_each_access_key_has_its_own_budget_wherever_it_connects_from(limited_with_keys: ServerProcess) -> None:
    with limited_with_keys.client() as admin:
        first, second = make_key(admin, ["VIEWER"]), make_key(admin, ["VIEWER"])
    with client_from(limited_with_keys, "127.0.0.20") as client:
        answers = [client.get("/api/metadata/taskdefs", headers=key_headers(first)) for _ in range(8)]
        refused = answers[-1]
        assert refused.status_code == 429, refused.text
        assert f"key {first[0]}" in refused.json()["message"]
        # Another key from the same address is not refused: the budget is the key's, not the address's.
        assert client.get("/api/metadata/taskdefs", headers=key_headers(second)).status_code == 200
    with client_from(limited_with_keys, "127.0.0.21") as client:
        # The first key from another address is still over its budget.
        assert client.get("/api/metadata/taskdefs", headers=key_headers(first)).status_code == 429


def test_without_a_key_of_its_own_a_request_spends_its_address_budget() -> None:
    with acting_as(UNAUTHENTICATED_ADMIN):
        assert limit_key({"type": "http", "client": ("10.9.9.9", 1)}) == "client 10.9.9.9"
    assert limit_key({"type": "http"}) == "client unknown"


def test_idle_buckets_are_forgotten_and_busy_ones_kept() -> None:
    now = [0.0]
    limiter = KeyLimiter(requests_per_second=10, burst=2, max_long_polls=0, clock=lambda: now[0])
    for index in range(9_999):
        limiter.admit(f"client {index}")
    now[0] = 0.9
    limiter.admit("client busy")
    limiter.admit("client busy")
    now[0] = 0.95
    limiter.admit("client new")  # the 10,001st key: the idle ones, full again by now, are dropped
    assert limiter.tracked_keys == 2
    with pytest.raises(TooManyRequests, match="Too many requests from client busy"):
        limiter.admit("client busy")  # half a token back: kept, and still refused
    limiter.admit("client 0")
    limiter.admit("client 0")
    with pytest.raises(TooManyRequests) as refused:
        limiter.admit("client 0")
    assert refused.value.retry_after_s == 1
