"""The outbound guard: HTTP tasks, webhooks and EVENT webhook sinks reach no loopback, link-local or metadata address.

``guarded_client`` gives an httpx client whose every new connection (the first hop and each redirect's) resolves its
host once, checks every address it resolves to against ``refusal`` (the refused networks, less the configured
``outbound_allow_networks``), and connects to a checked address itself: no second lookup, so no DNS-rebinding
window; the Host header and TLS SNI stay the name's, as httpcore takes them from the URL. A refused connection
raises ``OutboundRefused``, naming the address and the setting that would allow it.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Final

import httpcore
import httpx

from baton.config import Network, Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address

REFUSED: Final[tuple[tuple[Network, str], ...]] = tuple(
    (ipaddress.ip_network(cidr), kind)
    for cidr, kind in (
        ("0.0.0.0/8", "an unspecified ('this network') address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", "a link-local (cloud metadata) address"),
        ("100.100.100.200/32", "a cloud metadata address"),
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("fe80::/10", "a link-local address"),
        ("fd00:ec2::254/128", "a cloud metadata address"),
    )
)
"""What is refused unless allowed. IPv6 forms carrying an IPv4 address (mapped, compatible, 6to4, NAT64) are
judged by the IPv4 address too."""

_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")
_COMPATIBLE: Final = ipaddress.ip_network("::/96")
SETTING: Final = "BATON_OUTBOUND_ALLOW_NETWORKS"


class OutboundRefused(httpx.TransportError):
    """A call to an address the guard refuses; retrying it cannot help."""


def forms(address: Address) -> list[Address]:
    """The address, and the IPv4 address an IPv6 one carries, if any."""
    found: list[Address] = [address]
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and (address in _NAT64 or (address in _COMPATIBLE and int(address) > 1)):
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            found.append(embedded)
    return found


def refusal(address: Address, allowed: Iterable[Network]) -> str | None:
    """Why ``address`` may not be called (None: it may): the first refused network any of its forms is in, unless
    one of its forms is in an allowed network."""
    candidates = forms(address)
    allowed = tuple(allowed)
    if any(form in network for form in candidates for network in allowed if form.version == network.version):
        return None
    for form in candidates:
        for network, kind in REFUSED:
            if form.version == network.version and form in network:
                return kind
    return None


async def _resolved(name: str, port: int) -> list[Address]:
    """The address ``name`` is, or every one it resolves to (one lookup)."""
    try:
        return [ipaddress.ip_address(name)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(name, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise httpcore.ConnectError(f"cannot resolve {name}: {exc}") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(info[4][0])) for info in infos))
    if not addresses:
        raise httpcore.ConnectError(f"{name} resolves to no address")
    return addresses


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, and connects to the checked address through the default backend."""

    def __init__(self, inner: httpcore.AsyncNetworkBackend, allowed: tuple[Network, ...]) -> None:
        self._inner = inner
        self._allowed = allowed

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await self._checked(host, port)
        error: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address), port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    async def _checked(self, host: str, port: int) -> list[Address]:
        """Every address ``host`` resolves to, once; OutboundRefused if any is refused."""
        name = host.strip("[]")
        addresses = await _resolved(name, port)
        for address in addresses:
            kind = refusal(address, self._allowed)
            if kind is not None:
                shown = str(address) if str(address) == name else f"{name} resolves to {address},"
                raise OutboundRefused(f"refused: {shown} is {kind}; allow it with {SETTING}")
        return addresses

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise OutboundRefused(f"refused: a Unix socket ({path}) is not an outbound address")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (the CA bundle it trusts, or SSL_CERT_FILE/DIR), built once per process: building
    one reads and parses the whole bundle, about 40 ms of CPU, and a server has several outbound clients."""
    return httpx.create_ssl_context()


def guarded_client(settings: Settings, *, max_connections: int, follow_redirects: bool) -> httpx.AsyncClient:
    """An httpx client whose connections go only where the guard allows (and through no proxy of the environment)."""
    transport = httpx.AsyncHTTPTransport(verify=_tls_context(), limits=httpx.Limits(max_connections=max_connections))
    pool = transport._pool
    assert isinstance(pool, httpcore.AsyncConnectionPool)
    pool._network_backend = _GuardedBackend(pool._network_backend, settings.allowed_networks)
    return httpx.AsyncClient(transport=transport, follow_redirects=follow_redirects)
