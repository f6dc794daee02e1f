"""One HTTP request written byte for byte over a socket, and its whole answer: for paths a client would normalise
(``..``) and bytes it would refuse to send."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from tests.conftest import ServerProcess
from tests.helpers import ADMIN_HEADERS


@dataclass
class RawAnswer:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    raw: bytes

    def header_names(self) -> set[str]:
        return {name.lower() for name, _ in self.headers}


def raw_request(server: ServerProcess, method: str, target: bytes, body: bytes = b"", **headers: str) -> RawAnswer:
    """One request written byte for byte (no client normalises its path), with the test key; the whole answer."""
    lines = [
        method.encode() + b" " + target + b" HTTP/1.1",
        f"Host: 127.0.0.1:{server.port}".encode(),
        *(f"{name}: {value}".encode() for name, value in {**ADMIN_HEADERS, **headers}.items()),
        b"Connection: close",
        f"Content-Length: {len(body)}".encode(),
    ]
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    raw = b"".join(chunks)
    head, _, rest = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parsed = [tuple(line.split(":", 1)) for line in header_lines]
    return RawAnswer(int(status_line.split()[1]), [(n.strip(), v.strip()) for n, v in parsed], rest, raw)
