"""Workers' last polls (``GET /api/tasks/queue/polldata``): noted in memory on each poll, written in batches.

A poll is the hottest call a server answers, so noting it costs a dict assignment:
the first poll after a quiet spell starts a flush that writes every poll noted
meanwhile in one statement, at most once per ``interval_ms``. A read flushes this
server's own first; another server's polls show within about ``interval_ms``. The
table is shared (``PollDataStore``), and a stored time only moves forward, so any
number of servers may write it. What a server noted in its last interval before it
died is lost: a last poll time is a hint for operators, not a record to keep.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from baton.errors import StoreError
from baton.model import PollData
from baton.store import PollDataStore

log = logging.getLogger(__name__)

_Key = tuple[str, str | None, str | None]


class PollRecorder:
    def __init__(self, store: PollDataStore, clock: Callable[[], int], *, interval_ms: int = 1000) -> None:
        self._store = store
        self._clock = clock
        self._interval_ms = interval_ms
        self._pending: dict[_Key, int] = {}
        self._next_flush_ms = 0
        self._flusher: asyncio.Task[None] | None = None
        self._writing = asyncio.Lock()

    def seen(self, task_type: str, domain: str | None, worker_id: str | None) -> None:
        """Note a poll now; it is written within ``interval_ms``."""
        self._pending[(task_type, domain or None, worker_id or None)] = self._clock()
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_soon())

    async def poll_data(self, task_type: str | None) -> list[PollData]:
        """The last polls of ``task_type`` (of every type when None), this server's not yet written included."""
        await self.flush()
        return await self._store.poll_data(task_type)

    async def flush(self) -> None:
        """Write the polls noted so far (a store that fails loses them, with a warning).

        One write at a time: a flush returns only once the one in flight when it was called has ended too, so
        a read after it sees every poll noted before it.
        """
        async with self._writing:
            pending, self._pending = self._pending, {}
            self._next_flush_ms = self._clock() + self._interval_ms
            if not pending:
                return
            polls = [
                PollData(queue_name=task_type, domain=domain, worker_id=worker_id, last_poll_time=at)
                for (task_type, domain, worker_id), at in pending.items()
            ]
            try:
                await self._store.record_polls(polls)
            except StoreError as exc:
                log.warning("%d last poll times not recorded: %s", len(polls), exc)

    async def close(self) -> None:
        """Stop the background flush and write what is noted (at shutdown)."""
        if self._flusher is not None:
            self._flusher.cancel()
            self._flusher = None
        await self.flush()

    async def _flush_soon(self) -> None:
        try:
            while self._pending:
                delay_ms = self._next_flush_ms - self._clock()
                if delay_ms > 0:
                    await asyncio.sleep(delay_ms / 1000)
                await self.flush()
        except Exception:
            # Nobody awaits this task: what it cannot write is dropped, and the next poll starts another.
            log.exception("last poll times not recorded")
            self._pending.clear()
        finally:
            if self._flusher is asyncio.current_task():
                self._flusher = None
