"""A minimal HTTP/1.1 keep-alive client on asyncio streams, for the benchmark's hot paths.

Why not httpx: on this project's pins (httpx 0.28, httpcore 1.0) an ``AsyncClient`` request cost
about 3 ms of client CPU here, mostly httpcore retrying ``import sniffio`` on every request (it is
not installed) and rescanning its connection pool. On a 2-core machine that client would be the
bottleneck and the figures would measure it rather than the server. This client does only what
the benchmark needs: one request at a time per connection, ``Content-Length`` or chunked bodies,
a pool of idle connections per client, and a deadline per request. Anything unexpected on the
wire closes the connection and raises; nothing is retried, so every error reaches the report.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import msgspec

_decode = msgspec.json.decode
_encode = msgspec.json.encode

# uvicorn closes a keep-alive connection after 5 s idle; reconnect before that to avoid sending on a
# connection the server is closing.
_MAX_IDLE_SECONDS = 3.0


class HttpError(Exception):
    """The connection failed or the server's answer was not HTTP/1.1 as expected."""


@dataclass(frozen=True, slots=True)
class Response:
    status_code: int
    content: bytes
    headers: dict[str, str]

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return _decode(self.content)


class Connection:
    """One keep-alive connection; one request in flight at a time."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._idle_since = 0.0

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    async def request(self, head: bytes, body: bytes) -> Response:
        if self._writer is not None and time.monotonic() - self._idle_since > _MAX_IDLE_SECONDS:
            self.close()
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._reader, self._writer
        assert reader is not None
        writer.write(head + body if body else head)
        raw = await reader.readuntil(b"\r\n\r\n")
        lines = raw[:-4].decode("latin-1").split("\r\n")
        status_line = lines[0]
        if not status_line.startswith("HTTP/1.1 ") or len(status_line) < 12:
            raise HttpError(f"unexpected status line {status_line!r}")
        status = int(status_line[9:12])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            content = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            content = await _read_chunked(reader)
        elif status in (204, 304) or 100 <= status < 200:
            content = b""
        else:
            content = await reader.read()  # the body runs to the end of the connection
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            self.close()
        self._idle_since = time.monotonic()
        return Response(status, content, headers)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


class HttpClient:
    """Requests against one base URL over a pool of keep-alive connections (as many as are in use at once)."""

    def __init__(self, base_url: str, timeout: float = 30.0, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http://host:port base URLs are supported, got {base_url!r}")
        self._host = parts.hostname
        self._port = parts.port or 80
        # Sent with every request: the host and the client's own headers (its credentials), encoded once.
        lines = {"Host": parts.netloc, **(headers or {})}
        self._fixed_head = "".join(f"{name}: {value}\r\n" for name, value in lines.items()).encode()
        self._timeout = timeout
        self._idle: list[Connection] = []
        self.requests = 0

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()

    async def request(
        self,
        method: str,
        path: str,
        *,
        content: bytes = b"",
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> Response:
        if json is not None:
            content = _encode(json)
            headers = {"content-type": "application/json", **(headers or {})}
        if params:
            path = f"{path}?{urlencode(params)}"
        head = [f"{method} {path} HTTP/1.1\r\n".encode(), self._fixed_head]
        for name, value in (headers or {}).items():
            head.append(f"{name}: {value}\r\n".encode())
        if content or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(content)}\r\n".encode())
        head.append(b"\r\n")
        connection = self._idle.pop() if self._idle else Connection(self._host, self._port)
        try:
            async with asyncio.timeout(self._timeout if timeout is None else timeout):
                response = await connection.request(b"".join(head), content)
        except BaseException:
            connection.close()
            raise
        self.requests += 1
        if connection.is_open:
            self._idle.append(connection)
        return response

    async def get(self, path: str, **kwargs: Any) -> Response:
        return await self.request("GET", path, **kwargs)

    async def post(self, path: str, **kwargs: Any) -> Response:
        return await self.request("POST", path, **kwargs)
