"""Wake-ups for long polls and sync waits: the in-process implementation of ``service.wakeups.Wakeups``.

Keys name what changed: ``task:<type>`` (a task of that type may be ready) and
``run:<workflowId>`` (a run changed), both made in ``service.wakeups``. A waiter
listens *before* it checks the store, so a change between its check and its wait
is never missed. Wake-ups are hints: whoever wakes re-reads the store, and waits
are bounded, so a lost wake-up (another process made the change) costs latency,
never correctness.
Across processes, a notifier backed by PostgreSQL ``LISTEN/NOTIFY`` implements
the same interface.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import contextmanager


class Waiter:
    """One listener on one or more keys. ``wait`` returns True once woken since its last return."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def wake(self) -> None:
        self._event.set()

    async def wait(self, timeout: float) -> bool:
        if not self._event.is_set():
            try:
                await asyncio.wait_for(self._event.wait(), timeout)
            except TimeoutError:
                return False
        self._event.clear()
        return True


class Notifier:
    """In-process wake-ups, on the event loop that serves the API."""

    def __init__(self) -> None:
        self._waiters: dict[str, set[Waiter]] = {}

    def publish(self, keys: Iterable[str]) -> None:
        for key in keys:
            for waiter in self._waiters.get(key, ()):
                waiter.wake()

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
