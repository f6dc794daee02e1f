"""A background pass that runs again and again beside the API: the skeleton the sweeper, relay and retention share.

A pass that reports more work pending runs again at once; otherwise the next one
comes after the interval. A failing pass is logged and tried again later: a
loop that dies would silently stop timers, signals or retention.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

PassOnce = Callable[[], Awaitable[bool]]
"""One pass; True when it left work pending (a full batch), so the next pass should not wait."""


class Periodic:
    def __init__(self, name: str, pass_once: PassOnce, *, interval_s: float, log: logging.Logger) -> None:
        self._name = name
        self._pass_once = pass_once
        self._interval_s = interval_s
        self._log = log
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        while True:
            pending = False
            try:
                pending = await self._pass_once()
            except Exception:
                self._log.exception("%s pass failed; trying again", self._name)
            if not pending:
                await asyncio.sleep(self._interval_s)
