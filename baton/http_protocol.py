"""uvicorn's httptools protocol, with the writes a connection makes in one turn of the event loop sent as one.

uvicorn writes a response's head when the app starts it and its body when the app sends it: two ``write`` calls,
two TCP segments, and two reads for the client, for every small JSON answer. Here they leave together, at the end
of the turn (``docs/design.md``, "One write per answer").
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

FLUSH_AT_BYTES = 64 << 10
"""Held writes are sent at once when they reach this size, so a body streamed in many chunks without a pause
meets the socket's flow control as it would unheld."""


class _TurnWrites:
    """A transport whose writes are held until the end of the current turn of the loop (or ``FLUSH_AT_BYTES``),
    then written as one; everything else is the wrapped transport's."""

    __slots__ = ("_held", "_held_bytes", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._held_bytes = 0

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._held:
            self._loop.call_soon(self.flush)
        self._held.append(bytes(data))
        self._held_bytes += len(data)
        if self._held_bytes >= FLUSH_AT_BYTES:
            self.flush()

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        if not self._held:
            return
        held, self._held, self._held_bytes = self._held, [], 0
        if not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._held_bytes

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held, self._held_bytes = [], 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class TurnWritesHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` over ``_TurnWrites``: pass it to ``uvicorn.Config(http=...)``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_TurnWrites(transport, self.loop))  # type: ignore[arg-type]
