"""What the service layer calls to wake waiters: the interface, and the keys it names.

A use case publishes the keys of what it changed (``task:<type>``, ``run:<workflowId>``);
long polls and sync waits listen on them before they read the store. ``runtime/``
implements the interface (in process, and across processes on PostgreSQL);
``baton serve`` hands one to the service (``docs/design.md``, Wake-ups).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

TASK_KEY_PREFIX = "task:"


def task_key(task_type: str) -> str:
    return f"{TASK_KEY_PREFIX}{task_type}"


def run_key(workflow_id: str) -> str:
    return f"run:{workflow_id}"


class Waiter(Protocol):
    async def wait(self, timeout: float) -> bool:
        """True once woken since the last return; False when ``timeout`` seconds pass first."""
        ...

    def decline(self) -> None:
        """Pass the wake this waiter took on to another waiter of its keys (its poller is gone)."""
        ...

    def wake(self) -> None:
        """Wake this waiter alone (a task handed to its poller, ``service.handoffs``)."""
        ...

    @property
    def woken(self) -> bool:
        """Woken, and the wake not yet taken by ``wait``."""
        ...


class Wakeups(Protocol):
    def publish(self, keys: Iterable[str]) -> None:
        """Wake whoever listens on any of ``keys``."""
        ...

    def listen(self, *keys: str) -> AbstractContextManager[Waiter]:
        """A waiter woken by a publish of any of ``keys`` while the context is open."""
        ...


class _Unwoken:
    """Woken only by ``wake`` (a hand-off), never by a publish."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        if not self._event.is_set():
            try:
                await asyncio.wait_for(self._event.wait(), timeout)
            except TimeoutError:
                return False
        self._event.clear()
        return True

    def decline(self) -> None:
        pass

    def wake(self) -> None:
        self._event.set()

    @property
    def woken(self) -> bool:
        return self._event.is_set()


class NoWakeups:
    """Wakes nobody: a waiter re-reads the store on its own interval. For a service built without
    wake-ups (a script or a test driving it directly); ``baton serve`` passes runtime's notifier."""

    def publish(self, keys: Iterable[str]) -> None:
        pass

    @contextmanager
    def listen(self, *keys: str) -> Iterator[Waiter]:
        yield _Unwoken()
