"""An idle keep-alive connection outlives a client's pause, as Conductor's does (``baton.cli.KEEP_ALIVE_SECONDS``)."""

from __future__ import annotations

import http.client
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.timeout(30)


def test_a_connection_idle_for_longer_than_uvicorns_default_is_still_served(server: Any) -> None:
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname or "", address.port, timeout=10)
    try:
        connection.request("GET", "/health")
        first = connection.getresponse()
        first.read()
        assert first.status == 200
        time.sleep(6)  # uvicorn's default keep-alive is 5 s
        connection.request("GET", "/health")
        again = connection.getresponse()
        again.read()
        assert again.status == 200
    finally:
        connection.close()
