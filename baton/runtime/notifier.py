"""Wake-ups for long polls and sync waits: the in-process implementation of ``service.wakeups.Wakeups``.

Keys name what changed: ``task:<type>`` (a task of that type may be ready) and
``run:<workflowId>`` (a run changed), both made in ``service.wakeups``. A waiter
listens *before* it checks the store, so a change between its check and its wait
is never missed. Wake-ups are hints: whoever wakes re-reads the store, and waits
are bounded, so a lost wake-up (another process made the change) costs latency,
never correctness.
Across processes, a notifier backed by PostgreSQL ``LISTEN/NOTIFY`` implements
the same interface.

A task key wakes as many of its waiters as it is published times in one call
(one per task made ready), not all of them: every woken poller claims, and a
claim that finds the queue empty is a round trip for nothing. A waiter that
leaves with a wake it did not take passes it on to another waiter of its keys.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from baton.service.wakeups import TASK_KEY_PREFIX


class Waiter:
    """One listener on one or more keys. ``wait`` returns True once woken since its last return.

    A wake resolves the future ``wait`` awaits directly (its timeout a ``call_later``), so the waiting task runs
    on the loop's next turn: ``asyncio.wait_for`` over an ``Event`` took three turns (its inner task, its
    callback, the waiter), each behind whatever else was ready.
    """

    __slots__ = ("_future", "_woken")

    def __init__(self) -> None:
        self._woken = False
        self._future: asyncio.Future[None] | None = None

    def wake(self) -> None:
        self._woken = True
        future = self._future
        if future is not None and not future.done():
            future.set_result(None)

    @property
    def woken(self) -> bool:
        """Woken, and the wake not yet taken by ``wait``."""
        return self._woken

    def decline(self) -> None:
        """Give back the wake ``wait`` just took: leaving ``listen`` then passes it on."""
        self._woken = True

    async def wait(self, timeout: float) -> bool:
        if not self._woken:
            loop = asyncio.get_running_loop()
            future = self._future = loop.create_future()
            expiry = loop.call_later(timeout, _expire, future)
            try:
                await future
            finally:
                expiry.cancel()
                self._future = None
            if not self._woken:
                return False
        self._woken = False
        return True


def _expire(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class Notifier:
    """In-process wake-ups, on the event loop that serves the API."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[Waiter]] = {}

    def publish(self, keys: Iterable[str]) -> None:
        """Wake the waiters of each key; a task key given n times wakes n of its waiters (see the docstring)."""
        for key, times in Counter(keys).items():
            if key.startswith(TASK_KEY_PREFIX):
                self._wake_some(key, times)
            else:
                self.wake_all((key,))

    def wake_all(self, keys: Iterable[str]) -> None:
        """Wake every waiter of each key (for keys whose number of ready tasks is not known)."""
        for key in keys:
            for waiter in self._waiters.get(key, ()):
                waiter.wake()

    def _wake_some(self, key: str, times: int) -> None:
        for waiter in self._waiters.get(key, ()):
            if times <= 0:
                return
            if not waiter.woken:
                waiter.wake()
                times -= 1

    @contextmanager
    def listen(self, *keys: str) -> Iterator[Waiter]:
        waiter = Waiter()
        for key in keys:
            self._waiters.setdefault(key, set()).add(waiter)
        try:
            yield waiter
        finally:
            for key in keys:
                listeners = self._waiters.get(key)
                if listeners is not None:
                    listeners.discard(waiter)
                    if not listeners:
                        del self._waiters[key]
            if waiter.woken:
                for key in keys:
                    if key.startswith(TASK_KEY_PREFIX):
                        self._wake_some(key, 1)
