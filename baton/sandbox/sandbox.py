"""``Sandbox``: evaluate a script or a jq query in a child process, bounded and isolated, from asyncio.

The server makes one at start-up (``start``), calls ``script`` and ``jq`` from any
coroutine (or from a worker thread through ``asyncio.run_coroutine_threadsafe``
on the loop that started it) and ``close``s it at shutdown. Neither call raises
for anything a workflow does: errors, bounds included, come back as values, and
a bound's error says which (``limit``) with the texts of
``baton.sandbox.results``.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import msgspec

from baton.sandbox.jq_eval import check_query
from baton.sandbox.pool import Answer, Pool
from baton.sandbox.protocol import Config
from baton.sandbox.results import JqResult, ScriptResult

SCRIPT_GRACE_MS = 250
"""How long after its time bound a JavaScript child that has not answered is killed (it stops scripts itself)."""
JQ_GRACE_MS = 10
"""How long after its time bound a jq child that has not answered is killed (jq cannot stop itself)."""

DECODE_ON_THREAD_BYTES = 256 * 1024
"""Values larger than this (JSON bytes) are decoded on a worker thread (a few MB take tens of ms)."""

_decode = msgspec.json.Decoder().decode


class Sandbox:
    """Pools of child processes evaluating JavaScript (INLINE, SWITCH, DO_WHILE) and jq."""

    def __init__(
        self,
        *,
        processes: int = 2,
        script_timeout_ms: int = 1000,
        script_memory_bytes: int = 32 << 20,
        jq_timeout_ms: int = 1000,
        jq_memory_bytes: int = 256 << 20,
        jq_max_output_bytes: int = 4 << 20,
    ) -> None:
        parent = os.getpid()
        self._js = Pool(
            Config("js", script_timeout_ms, script_memory_bytes, 0, parent), processes, grace_ms=SCRIPT_GRACE_MS
        )
        self._jq = Pool(
            Config("jq", jq_timeout_ms, jq_memory_bytes, jq_max_output_bytes, parent), processes, grace_ms=JQ_GRACE_MS
        )
        self._started: dict[str, asyncio.Future[None]] = {}
        self._closed = False

    async def start(self) -> None:
        """Spawn every child and wait until they are ready; idempotent (raises if they cannot start).

        Optional: each pool is started by its first evaluation, so a server that runs no script or
        query spawns no child.
        """
        await asyncio.gather(self._ensure_started(self._js), self._ensure_started(self._jq))

    async def _ensure_started(self, pool: Pool) -> None:
        if self._closed:
            raise RuntimeError("the sandbox is closed")
        started = self._started.get(pool.kind)
        if started is None:
            started = self._started[pool.kind] = asyncio.ensure_future(pool.start())
        await asyncio.shield(started)

    async def close(self) -> None:
        """Kill the children; later calls answer with an error."""
        self._closed = True
        for started in self._started.values():
            if not started.done():
                started.cancel()
        await asyncio.gather(self._js.close(), self._jq.close())

    def pids(self) -> list[int]:
        """The process ids of the running children (for tests and diagnostics)."""
        return self._js.pids() + self._jq.pids()

    @property
    def replaced(self) -> int:
        """How many children were replaced since start."""
        return self._js.replaced + self._jq.replaced

    async def script(self, source: str, input_json: bytes) -> ScriptResult:
        """Evaluate a script with ``$`` bound to the decoded ``input_json``; its last statement's value."""
        if not isinstance(source, str):
            return ScriptResult(error=f"script must be a string, not {type(source).__name__}")
        answer = await self._evaluate(self._js, source, input_json)
        if answer.error is not None:
            return ScriptResult(error=answer.error, limit=answer.limit)
        return ScriptResult(value=await _decoded(answer))

    async def jq(self, query: str, input_json: bytes) -> JqResult:
        """Apply a jq query to the decoded ``input_json``: its first result and all of them."""
        problem = check_query(query)
        if problem is not None:
            return JqResult(error=problem)
        answer = await self._evaluate(self._jq, query, input_json)
        if answer.error is not None:
            return JqResult(error=answer.error, limit=answer.limit)
        values = await _decoded(answer)
        if not isinstance(values, list):  # pragma: no cover - a jq child always answers a list
            return JqResult(error="jq error: the sandbox answered no list")
        return JqResult(result=values[0] if values else None, result_list=values)

    async def _evaluate(self, pool: Pool, source: str, input_json: bytes) -> Answer:
        if self._closed:
            return Answer(None, "the sandbox is closed", False)
        try:
            await self._ensure_started(pool)
        except Exception as exc:
            return Answer(None, f"the sandbox could not start: {exc}", False)
        return await pool.evaluate(source, bytes(input_json))


async def _decoded(answer: Answer) -> Any:
    """The answer's value; a large one is decoded on a thread, not on the event loop."""
    if answer.value is None:
        return None
    if len(answer.value) > DECODE_ON_THREAD_BYTES:
        return await asyncio.to_thread(_decode, answer.value)
    return _decode(answer.value)
