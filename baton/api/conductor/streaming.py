"""JSON answers too large to encode in one go: written a piece at a time, the event loop free in between.

A run of 100,000 tasks is about 160 MB of JSON; encoded whole it held the event
loop for seconds, and the memory for all of it. Here an answer is encoded item
by item into pieces of about ``PIECE_BYTES``: an answer that fits in one piece
is sent as it always was (one body with its length); a larger one is streamed,
the loop getting a turn between pieces, and a run's tasks are read from the
store a page (``TASK_PAGE``) at a time while they are sent. Such answers are not
capped (Conductor's are not): what one costs the server at any moment is a
page of tasks and a piece of JSON. A store failure after the first piece cuts
the answer short (its status was sent already); a client sees broken JSON, never
a wrong whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from typing import Any

import msgspec
from starlette.responses import Response, StreamingResponse

from baton.model import Workflow
from baton.model.codec import encode, to_builtins
from baton.service import RunService

PIECE_BYTES = 1 << 20
"""About how much JSON is encoded between two turns of the event loop."""
TASK_PAGE = 1000
"""How many of a run's tasks are read from the store at a time when a run is streamed."""

MoreTasks = Callable[[int], Awaitable[list[tuple[int, str]]]]
"""``(seq, JSON)`` of the next page of a run's tasks after the given ``seq`` (empty at the end): sent as it is,
never decoded, so a page leaves nothing for the garbage collector to walk."""

_MEDIA_TYPE = "application/json"


def render_run(run: Workflow) -> dict[str, Any]:
    """A run as Conductor's ``Workflow`` JSON, as builtins."""
    rendered: dict[str, Any] = to_builtins(run)
    rendered.setdefault("tasks", [])
    rendered["workflowType"] = run.workflow_name
    return rendered


async def json_answer(pieces: AsyncIterator[bytes], status_code: int = 200) -> Response:
    """One body when the pieces add up to at most ``PIECE_BYTES``, else a stream of them."""
    taken: list[bytes] = []
    size = 0
    async for piece in pieces:
        taken.append(piece)
        size += len(piece)
        if size > PIECE_BYTES:
            return StreamingResponse(_then(taken, pieces), status_code=status_code, media_type=_MEDIA_TYPE)
    return Response(b"".join(taken), status_code=status_code, media_type=_MEDIA_TYPE)


async def _then(taken: list[bytes], rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    yield b"".join(taken)
    taken.clear()
    async for piece in rest:
        await asyncio.sleep(0)
        yield piece


def run_pieces(run: Workflow, *, extra: dict[str, Any] | None = None) -> AsyncIterator[bytes]:
    """A run's JSON (with ``extra`` fields), its tasks last."""
    head = render_run(run)
    del head["tasks"]
    head.update(extra or {})
    return object_pieces(head, "tasks", run.tasks)


async def object_pieces(
    head: dict[str, Any],
    key: str,
    items: list[Any],
    *,
    render: Callable[[Any], Any] | None = None,
) -> AsyncIterator[bytes]:
    """``head`` with an array under ``key``: ``items``, each through ``render`` (when given) as it is encoded."""
    opening = encode(head)[:-1]
    yield opening + (b"," if len(opening) > 1 else b"") + encode(key) + b":["
    for piece in array_pieces(items if render is None else map(render, items)):
        yield piece
    yield b"]}"


_header_decoder = msgspec.json.Decoder(dict[str, msgspec.Raw])


async def stored_run_pieces(
    header: str, tasks: list[tuple[int, str]], *, more: MoreTasks | None = None
) -> AsyncIterator[bytes]:
    """A run's JSON from its stored header and tasks, none of it decoded: the header is split into its top-level
    fields only (as ``render_run`` renders it: ``tasks`` last, ``workflowType`` added)."""
    fields = _header_decoder.decode(header)
    fields.pop("tasks", None)
    fields["workflowType"] = fields["workflowName"]
    yield encode(fields)[:-1] + b',"tasks":['
    if tasks:
        yield ",".join(json for _, json in tasks).encode()
        after = tasks[-1][0]
        while more is not None and (page := await more(after)):
            yield ("," + ",".join(json for _, json in page)).encode()
            after = page[-1][0]
    yield b"]}"


async def stored_run_answer(runs: RunService, workflow_id: str, *, include_tasks: bool = True) -> Response:
    """A run as stored, its tasks (``include_tasks``) read and sent a page at a time.

    The run and its first ``TASK_PAGE`` tasks are one read; each later page is a
    read of its own, so a decision made while a large run is sent may show in
    the later pages only.
    """
    header, tasks = await runs.get_json(workflow_id, TASK_PAGE if include_tasks else 0)

    async def more(after_seq: int) -> list[tuple[int, str]]:
        return await runs.task_json_after(workflow_id, after_seq, TASK_PAGE)

    return await json_answer(stored_run_pieces(header, tasks, more=more if len(tasks) == TASK_PAGE else None))


async def list_pieces(lists: Iterable[AsyncIterator[bytes]]) -> AsyncIterator[bytes]:
    """A JSON array of values each given as pieces."""
    yield b"["
    for index, pieces in enumerate(lists):
        if index:
            yield b","
        async for piece in pieces:
            yield piece
    yield b"]"


async def map_pieces(entries: Iterable[tuple[str, AsyncIterator[bytes]]]) -> AsyncIterator[bytes]:
    """A JSON object whose values are each given as pieces."""
    yield b"{"
    for index, (key, pieces) in enumerate(entries):
        yield (b"," if index else b"") + encode(key) + b":"
        async for piece in pieces:
            yield piece
    yield b"}"


def array_pieces(items: Iterable[Any], *, continued: bool = False) -> Iterator[bytes]:
    """The items' JSON, comma-separated, in pieces of about ``PIECE_BYTES`` (``continued``: after earlier items)."""
    parts: list[bytes] = []
    size = 0
    for item in items:
        encoded = encode(item)
        if continued or parts:
            parts.append(b",")
        parts.append(encoded)
        continued = True
        size += len(encoded)
        if size >= PIECE_BYTES:
            yield b"".join(parts)
            parts.clear()
            size = 0
    if parts:
        yield b"".join(parts)
