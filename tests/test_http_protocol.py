"""The server's writes: a response's head waits for its body and both leave in one write; a write nothing follows
leaves at the end of the loop's turn; closing sends what is held first, aborting drops it.

The transport under the pairing records what reaches it; every test server's answers go through the pairing too.
"""

from __future__ import annotations

import asyncio
from typing import Any

from baton.http_protocol import PairedWrites


class RecordingTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, Any]] = []
        self.closing = False

    def write(self, data: Any) -> None:
        self.calls.append(("write", bytes(data)))

    def writelines(self, chunks: Any) -> None:
        self.calls.append(("writelines", [bytes(chunk) for chunk in chunks]))

    def close(self) -> None:
        self.calls.append(("close", None))
        self.closing = True

    def abort(self) -> None:
        self.calls.append(("abort", None))
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_write_buffer_size(self) -> int:
        return 7


async def _next_turn() -> None:
    await asyncio.sleep(0)
    await asyncio.sleep(0)


async def test_a_head_and_its_body_leave_in_one_call() -> None:
    transport = RecordingTransport()
    paired = PairedWrites(transport, asyncio.get_running_loop())
    paired.write(b"HTTP/1.1 200 OK\r\n\r\n")
    assert transport.calls == []
    assert paired.get_write_buffer_size() == 7 + len(b"HTTP/1.1 200 OK\r\n\r\n")
    paired.write(b"{}")
    assert transport.calls == [("writelines", [b"HTTP/1.1 200 OK\r\n\r\n", b"{}"])]
    await _next_turn()
    assert len(transport.calls) == 1


async def test_a_write_nothing_follows_leaves_at_the_end_of_the_turn() -> None:
    transport = RecordingTransport()
    paired = PairedWrites(transport, asyncio.get_running_loop())
    paired.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert transport.calls == []
    await _next_turn()
    assert transport.calls == [("write", b"HTTP/1.1 100 Continue\r\n\r\n")]


async def test_streamed_chunks_leave_in_order_two_at_a_time() -> None:
    transport = RecordingTransport()
    paired = PairedWrites(transport, asyncio.get_running_loop())
    for chunk in (b"head", b"1", b"2"):
        paired.write(chunk)
    await _next_turn()
    assert transport.calls == [("writelines", [b"head", b"1"]), ("write", b"2")]


async def test_closing_sends_what_is_held_first_and_aborting_drops_it() -> None:
    transport = RecordingTransport()
    paired = PairedWrites(transport, asyncio.get_running_loop())
    paired.write(b"last words")
    paired.close()
    assert transport.calls == [("write", b"last words"), ("close", None)]

    aborted = RecordingTransport()
    paired = PairedWrites(aborted, asyncio.get_running_loop())
    paired.write(b"never sent")
    paired.abort()
    await _next_turn()
    assert aborted.calls == [("abort", None)]
