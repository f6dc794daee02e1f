"""The outbound guard's rules, and its client against real sockets: names resolved, every redirect checked."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys

import httpx
import pytest

from baton.config import Settings
from baton.runtime.outbound import OutboundRefused, guarded_client, refusal
from tests.outbound.receivers import receiving

REFUSED = [
    ("127.0.0.1", "a loopback address"),
    ("127.200.0.9", "a loopback address"),
    ("::1", "a loopback address"),
    ("0.0.0.0", "an unspecified ('this network') address"),
    ("::", "an unspecified address"),
    ("169.254.169.254", "a link-local (cloud metadata) address"),
    ("fe80::1", "a link-local address"),
    ("fd00:ec2::254", "a cloud metadata address"),
    ("100.100.100.200", "a cloud metadata address"),
    ("::ffff:127.0.0.1", "a loopback address"),
    ("::ffff:169.254.169.254", "a link-local (cloud metadata) address"),
    ("::127.0.0.1", "a loopback address"),
    ("64:ff9b::a9fe:a9fe", "a link-local (cloud metadata) address"),
    ("2002:7f00:1::", "a loopback address"),
]


@pytest.mark.parametrize(("address", "kind"), REFUSED)
def test_loopback_link_local_and_metadata_addresses_are_refused(address: str, kind: str) -> None:
    assert refusal(ipaddress.ip_address(address), ()) == kind


@pytest.mark.parametrize("address", ["8.8.8.8", "10.1.2.3", "192.168.1.1", "2001:db8::1", "::ffff:8.8.8.8"])
def test_other_addresses_are_allowed(address: str) -> None:
    assert refusal(ipaddress.ip_address(address), ()) is None


def test_a_configured_network_allows_its_addresses_in_any_form() -> None:
    allowed = Settings(outbound_allow_networks=" 127.0.0.0/8, fd00:ec2::254 ").allowed_networks
    for address in ("127.0.0.1", "::ffff:127.0.0.1", "fd00:ec2::254"):
        assert refusal(ipaddress.ip_address(address), allowed) is None
    assert refusal(ipaddress.ip_address("::1"), allowed) == "a loopback address"
    assert refusal(ipaddress.ip_address("169.254.169.254"), allowed) is not None


def test_a_bad_network_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match=r"BATON_OUTBOUND_ALLOW_NETWORKS\): '10.0.0.0/99' is not a network"):
        Settings(outbound_allow_networks="127.0.0.0/8,10.0.0.0/99")
    with pytest.raises(ValueError, match="BATON_OUTBOUND_ALLOW_NETWORKS"):
        Settings.from_env({"BATON_OUTBOUND_ALLOW_NETWORKS": "localhost"})


def test_the_server_does_not_start_with_a_bad_network() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "baton", "serve", "--db", "sqlite:///:memory:", "--port", "0"],
        env={**os.environ, "BATON_OUTBOUND_ALLOW_NETWORKS": "nope"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "baton serve: error: outbound_allow_networks (BATON_OUTBOUND_ALLOW_NETWORKS): 'nope' is not a network"
        " such as 127.0.0.0/8"
    ]


async def _get(allow: str, url: str) -> httpx.Response:
    async with guarded_client(
        Settings(outbound_allow_networks=allow), max_connections=2, follow_redirects=True
    ) as client:
        return await client.get(url, timeout=5)


async def test_a_name_resolving_to_loopback_is_refused_before_connecting() -> None:
    with receiving("127.0.0.1") as receiver:
        port = receiver.url.rsplit(":", 1)[1]
        with pytest.raises(OutboundRefused, match=r"^refused: localhost resolves to 127.0.0.1, is a loopback"):
            await _get("", f"http://localhost:{port}/x")
        with pytest.raises(OutboundRefused, match=r"^refused: 127.0.0.1 is a loopback address; allow it with BATON_"):
            await _get("127.0.0.2/32", f"{receiver.url}/x")
        assert receiver.paths == []
        response = await _get("127.0.0.0/8", f"http://localhost:{port}/x")
        assert response.json() == {"host": f"localhost:{port}", "path": "/x"}


async def test_an_ipv6_loopback_is_refused() -> None:
    with pytest.raises(OutboundRefused, match=r"^refused: ::1 is a loopback address"):
        await _get("127.0.0.0/8", "http://[::1]:9/")


async def test_a_redirect_to_a_refused_address_is_refused_after_the_allowed_first_hop() -> None:
    with receiving("127.0.0.2") as first, receiving("127.0.0.1") as target:
        with pytest.raises(OutboundRefused, match=r"^refused: 127.0.0.1 is a loopback address"):
            await _get("127.0.0.2/32", f"{first.url}/redirect?to={target.url}/secret")
        assert first.paths == [f"/redirect?to={target.url}/secret"] and target.paths == []
        response = await _get("127.0.0.2/32, 127.0.0.1/32", f"{first.url}/redirect?to={target.url}/secret")
        assert response.json()["path"] == "/secret"
