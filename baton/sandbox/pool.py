"""The parent side: pools of child processes that evaluate JavaScript and jq, and ``Sandbox``.

Two pools, one per kind (V8 reserves far more address space than a jq child's
RLIMIT_AS allows, so a child does one kind). Each keeps ``processes`` children
plus one spare started ahead, so a child lost to a bound is replaced at once.
A request waits for a free child, is written to it (``baton.sandbox.protocol``)
and its answer is awaited for at most the kind's time bound plus a grace; a
child that misses that deadline is killed, and one that dies mid-request (a
segfault, V8's fatal out-of-memory, jq's abort under RLIMIT_AS, SIGKILL) gives
the memory bound's error: an allocation that failed is by far the likeliest
cause. The exchange with a child runs in a task of its own, so a caller that is
cancelled leaves it to finish; the child goes back to the pool only once its
answer is read (or it is killed), never answering the wrong request.

Nothing here blocks the event loop: children are spawned with
``asyncio.create_subprocess_exec`` and talked to through pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Final

import msgspec

from baton.sandbox.protocol import (
    HEADER,
    Config,
    Request,
    Response,
    frame,
    request_encoder,
    response_decoder,
)
from baton.sandbox.results import memory_limit_text, time_limit_text

SPAWN_TIMEOUT_S: Final = 30.0
RESPAWN_BACKOFF_S: Final = 1.0
ANSWER_SLACK_BYTES: Final = 1 << 20
_CHILD_ENV_KEPT: Final = ("PATH", "LANG", "LC_ALL", "PYTHONPATH", "TMPDIR")


class ChildLost(Exception):
    """The child ended, or broke the protocol, before it answered."""


class _Child:
    """One running child process and its pipes."""

    def __init__(self, process: asyncio.subprocess.Process, max_answer_bytes: int) -> None:
        self.process = process
        self._max_answer_bytes = max_answer_bytes
        assert process.stdin is not None and process.stdout is not None
        self._writer = process.stdin
        self._reader = process.stdout

    async def read(self) -> Response:
        try:
            header = await self._reader.readexactly(HEADER.size)
            (size,) = HEADER.unpack(header)
            if size > self._max_answer_bytes:
                raise ChildLost(f"an answer of {size} bytes")
            payload = await self._reader.readexactly(size)
            return response_decoder.decode(payload)
        except (asyncio.IncompleteReadError, ConnectionError, msgspec.DecodeError) as exc:
            raise ChildLost(str(exc)) from exc

    async def call(self, request_id: int, message: bytes) -> Response:
        try:
            self._writer.write(message)
            await self._writer.drain()
        except (ConnectionError, RuntimeError) as exc:
            raise ChildLost(str(exc)) from exc
        response = await self.read()
        if response.id != request_id:
            raise ChildLost(f"answer {response.id} to request {request_id}")
        return response

    def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
        with contextlib.suppress(Exception):
            self._writer.close()

    async def reap(self) -> None:
        self.kill()
        with contextlib.suppress(Exception):
            await self.process.wait()


@dataclass(frozen=True, slots=True)
class Answer:
    """A child's answer to one request, or the bound error the parent decided on."""

    value: bytes | None
    error: str | None
    limit: bool


_CLOSED: Final = Answer(None, "the sandbox is closed", False)


class Pool:
    """``size`` children of one kind, a spare, and the requests waiting for them."""

    def __init__(self, config: Config, size: int, *, grace_ms: int) -> None:
        self._config = config
        self._size = max(1, size)
        self._deadline_s = (config.timeout_ms + grace_ms) / 1000
        # The largest answer read from a child: jq's output bound, or all a script's heap could encode to.
        self._max_answer_bytes = max(config.max_output_bytes, 4 * config.memory_bytes) + ANSWER_SLACK_BYTES
        self._idle: asyncio.Queue[_Child | None] = asyncio.Queue()  # None: closed
        self._spare: asyncio.Task[_Child] | None = None
        self._busy: set[_Child] = set()
        self._tasks: set[asyncio.Task[Answer]] = set()
        self._ids = itertools.count(1)
        self._closed = False
        self._time_text = time_limit_text(config.timeout_ms)
        self._memory_text = memory_limit_text(config.memory_bytes)
        self.replaced = 0
        """How many children were replaced (killed at a bound, died, or retired)."""

    @property
    def kind(self) -> str:
        return self._config.kind

    async def start(self) -> None:
        children = await asyncio.gather(*(self._spawn() for _ in range(self._size)))
        for child in children:
            self._idle.put_nowait(child)
        self._spare = asyncio.ensure_future(self._spawn())

    async def close(self) -> None:
        """Kill every child; callers waiting for one, or being answered by one, get the closed error."""
        if self._closed:
            return
        self._closed = True
        self._idle.put_nowait(None)  # wakes one waiter, which passes it on
        children: list[_Child] = list(self._busy)
        while not self._idle.empty():
            child = self._idle.get_nowait()
            if child is not None:
                children.append(child)
        self._idle.put_nowait(None)
        for child in children:
            child.kill()
        spare, self._spare = self._spare, None
        if spare is not None:  # let it finish starting (a cancelled spawn could leave a process behind)
            with contextlib.suppress(Exception):
                children.append(await spare)
        await asyncio.gather(*(child.reap() for child in children))
        await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def pids(self) -> list[int]:
        """The process ids of the children that are running (idle, busy, spare)."""
        children = [*self._busy, *(child for child in self._idle._queue if child is not None)]  # type: ignore[attr-defined]
        spare = self._spare
        if spare is not None and spare.done() and not spare.cancelled() and spare.exception() is None:
            children.append(spare.result())
        return [child.process.pid for child in children if child.process.returncode is None]

    def spare_pid(self) -> int | None:
        """The process id of the spare, once it is ready."""
        spare = self._spare
        if spare is None or not spare.done() or spare.cancelled() or spare.exception() is not None:
            return None
        return spare.result().process.pid

    def idle_pids(self) -> list[int]:
        """The process ids of the children waiting for a request."""
        return [child.process.pid for child in self._idle._queue if child is not None]  # type: ignore[attr-defined]

    async def evaluate(self, source: str, input_json: bytes) -> Answer:
        request_id = next(self._ids)
        try:
            message = frame(request_encoder.encode(Request(request_id, source, input_json)))
        except UnicodeEncodeError as exc:  # a lone surrogate: not text any engine can read
            return Answer(None, f"not valid Unicode text: {exc.reason} at {exc.start}", False)
        child = await self._idle.get()
        while child is not None and child.process.returncode is not None:  # it died while idle
            self._replace(child)
            child = await self._idle.get()
        if child is None or self._closed:
            self._idle.put_nowait(child)
            return _CLOSED
        self._busy.add(child)
        exchange = self._background(self._exchange(child, request_id, message))
        return await asyncio.shield(exchange)

    def _background(self, coroutine: Awaitable[Answer]) -> asyncio.Task[Answer]:
        task: asyncio.Task[Answer] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _exchange(self, child: _Child, request_id: int, message: bytes) -> Answer:
        """Owns ``child`` for one request: gives it back to the pool, or has it replaced."""
        try:
            response = await asyncio.wait_for(child.call(request_id, message), self._deadline_s)
        except TimeoutError:
            self._replace(child)
            return Answer(None, self._time_text, True)
        except ChildLost:
            self._replace(child)
            return _CLOSED if self._closed else Answer(None, self._memory_text, True)
        except BaseException:
            self._replace(child)
            raise
        if response.retire or self._closed:
            self._replace(child)
        else:
            self._busy.discard(child)
            self._idle.put_nowait(child)
        if response.error is not None:
            return Answer(None, response.error, response.limit)
        return Answer(response.value, None, False)

    def _replace(self, child: _Child) -> None:
        """Kill ``child``; the spare takes its place as soon as it is ready, and a new spare starts."""
        self._busy.discard(child)
        child.kill()
        if not self._closed:
            self.replaced += 1
        self._background(self._reap_and_refill(child))

    async def _reap_and_refill(self, child: _Child) -> Answer:
        reaping = asyncio.ensure_future(child.reap())
        while not self._closed:
            spare, self._spare = self._spare, asyncio.ensure_future(self._spawn())
            try:
                replacement = await spare if spare is not None else await self._spawn()
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(RESPAWN_BACKOFF_S)
                continue
            if self._closed:
                await replacement.reap()
            else:
                self._idle.put_nowait(replacement)
            break
        await reaping
        return Answer(None, None, False)

    async def _spawn(self) -> _Child:
        config_json = msgspec.json.encode(self._config).decode()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "baton.sandbox.child",
            config_json,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=_child_environment(),
        )
        child = _Child(process, self._max_answer_bytes)
        try:
            ready = await asyncio.wait_for(child.read(), SPAWN_TIMEOUT_S)
        except BaseException:
            await child.reap()
            raise
        if ready.id != 0:
            await child.reap()
            raise ChildLost("the child did not say it was ready")
        return child


def _child_environment() -> dict[str, str]:
    """A small environment: nothing of the server's (jq's ``$ENV`` would show a database URL)."""
    env = {name: os.environ[name] for name in _CHILD_ENV_KEPT if name in os.environ}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    return env
