"""uvicorn's httptools protocol, with a response's head and body sent in one write.

uvicorn writes a response's head when the app starts it and its body when the app sends it: two ``write`` calls,
two TCP segments, and two reads for the client, for every small JSON answer. Here a write waits for the next one
(or the end of the loop's turn) and the two leave together (``docs/design.md``, "One write per answer").
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class PairedWrites:
    """A transport that holds a write until the next one, and sends the two together; a write nothing follows in
    the same turn of the loop goes out at the turn's end. Everything else is the wrapped transport's."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            return
        self._held = None
        self._transport.writelines((held, data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class PairedWritesHttpToolsProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` over ``PairedWrites``: pass it to ``uvicorn.Config(http=...)``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(PairedWrites(transport, self.loop))  # type: ignore[arg-type]
