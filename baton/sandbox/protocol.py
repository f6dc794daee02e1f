"""The messages between the sandbox's parent and a child, and how they are framed.

A child reads requests on its stdin and writes answers on its stdout (its real
fd 1 is kept for that; anything else the process prints goes to stderr). Each
message is a 4-byte big-endian length followed by that many bytes of msgpack
(msgspec structs as arrays). A child's first message is a ``Response`` with id 0:
it is ready. Every later ``Response`` carries the id of the request it answers;
a child handles one request at a time.
"""

from __future__ import annotations

import struct
from typing import Final, Literal

import msgspec

HEADER: Final = struct.Struct(">I")
MAX_FRAME_BYTES: Final = 1 << 30

Kind = Literal["js", "jq"]


class Request(msgspec.Struct, array_like=True, frozen=True):
    """Evaluate ``source`` (a script or a jq query) on ``input`` (JSON bytes)."""

    id: int
    source: str
    input: bytes


class Response(msgspec.Struct, array_like=True, frozen=True):
    """The answer to request ``id``: ``value`` is JSON bytes when ``error`` is None.

    For a script the value is the script's value (``null`` for undefined); for jq,
    the list of all results. ``limit`` marks an error that is a bound; ``retire``
    asks the parent to replace the child after this answer (it may be unwell).
    """

    id: int
    value: bytes = b"null"
    error: str | None = None
    limit: bool = False
    retire: bool = False


class Config(msgspec.Struct, frozen=True):
    """What a child is started with (one JSON argument)."""

    kind: Kind
    timeout_ms: int
    memory_bytes: int
    max_output_bytes: int
    parent_pid: int


request_encoder = msgspec.msgpack.Encoder()
request_decoder = msgspec.msgpack.Decoder(Request)
response_encoder = msgspec.msgpack.Encoder()
response_decoder = msgspec.msgpack.Decoder(Response)


def frame(payload: bytes) -> bytes:
    """One message on the wire: its length, then its bytes."""
    return HEADER.pack(len(payload)) + payload
