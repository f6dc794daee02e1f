"""Wake-ups across processes through PostgreSQL ``LISTEN/NOTIFY``.

Every ``baton serve`` on one database listens on one channel. A publish wakes
local waiters at once and is also sent, coalesced with the others of the same
moment, as one ``NOTIFY`` whose payload names the keys; the other processes
wake their own waiters. A process ignores its own notifications. Wake-ups stay
hints (see ``notifier.py``): a notification lost while a connection is down
costs latency, not correctness, and the connections are made again.

It uses asyncpg, as the store does: one connection that listens (asyncpg calls
back on each notification, and on the connection's loss), and one that sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Iterable

import asyncpg
import msgspec

from baton.runtime.notifier import Notifier
from baton.store.postgres import split_connect_timeout

log = logging.getLogger(__name__)

CHANNEL = "baton_wakeups"
_MAX_KEYS_PER_NOTIFY = 100
"""PostgreSQL caps a payload at 8000 bytes; more keys than this go in further notifications."""
_RECONNECT_SECONDS = 1.0
_CONNECT_TIMEOUT_SECONDS = 10.0
"""When the URL gives no ``connect_timeout``."""
_CONNECTION_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError, TimeoutError)
"""What a notifier connection's loss looks like: the connection is dropped and made again. asyncpg's
InternalClientError is among them: a connection cut in the middle of a NOTIFY can leave its protocol
mid-operation, and the next statement on it fails that way."""
_MIN_FLUSH_INTERVAL = 0.01
"""Under load, at most one flush per this many seconds: each NOTIFY costs both sides a statement and
PostgreSQL a lock at commit, and a busier moment then shares one. The first publish after a quiet spell
is sent at once, so a lone wake-up is not delayed; under load another process's waiter hears of a change
at most this much later (this process's own waiters are woken at once)."""


class _Payload(msgspec.Struct, array_like=True):
    origin: str
    keys: list[str]


class PostgresNotifier(Notifier):
    def __init__(self, url: str) -> None:
        super().__init__()
        self._url, connect_timeout = split_connect_timeout(url)
        self._connect_timeout = connect_timeout or _CONNECT_TIMEOUT_SECONDS
        self._origin = uuid.uuid4().hex[:12]
        self._own_prefix = msgspec.json.encode([self._origin]).decode()[:-1]
        """How this process's own payloads begin (``["origin"``): recognised without decoding them."""
        self._pending: set[str] = set()
        self._flush_needed = asyncio.Event()
        self._listening = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._decoder = msgspec.json.Decoder(_Payload)

    async def start(self) -> None:
        """Start listening; returns once the first LISTEN is in place."""
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._listen_forever(), name="baton-notify-listen"),
            loop.create_task(self._send_forever(), name="baton-notify-send"),
        ]
        await asyncio.wait_for(self._listening.wait(), timeout=10)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def publish(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        super().publish(keys)
        self._pending.update(keys)
        self._flush_needed.set()

    async def _connect(self, server_settings: dict[str, str] | None = None) -> asyncpg.Connection:
        return await asyncpg.connect(self._url, timeout=self._connect_timeout, server_settings=server_settings)

    async def _listen_forever(self) -> None:
        while True:
            connection: asyncpg.Connection | None = None
            try:
                connection = await self._connect()
                lost = _loss_of(connection)
                await connection.add_listener(CHANNEL, self._on_notification)
                self._listening.set()
                await lost.wait()
                log.warning("lost the wake-up listener connection; connecting again")
            except _CONNECTION_ERRORS as exc:
                log.warning("lost the wake-up listener connection (%s); connecting again", exc)
            finally:
                if connection is not None:
                    connection.terminate()
            await asyncio.sleep(_RECONNECT_SECONDS)

    def _on_notification(self, connection: object, pid: int, channel: str, raw: str) -> None:
        if raw.startswith(self._own_prefix):
            return
        try:
            payload = self._decoder.decode(raw)
        except msgspec.DecodeError:
            return
        if payload.origin != self._origin:
            # A payload names each key once, however many tasks it stands for: every waiter of it may be needed.
            self.wake_all(payload.keys)

    async def _send_forever(self) -> None:
        while True:
            connection: asyncpg.Connection | None = None
            try:
                # A NOTIFY commits a transaction of its own: it need not wait for the WAL flush (a hint lost in a
                # PostgreSQL crash costs latency only), and each wait would hold back the wake-ups behind it.
                connection = await self._connect({"synchronous_commit": "off"})
                loop = asyncio.get_running_loop()
                last_flush = 0.0
                while True:
                    await self._flush_needed.wait()
                    wait = last_flush + _MIN_FLUSH_INTERVAL - loop.time()
                    if wait > 0:
                        await asyncio.sleep(wait)
                    last_flush = loop.time()
                    self._flush_needed.clear()
                    keys, self._pending = sorted(self._pending), set()
                    for start in range(0, len(keys), _MAX_KEYS_PER_NOTIFY):
                        chunk = keys[start : start + _MAX_KEYS_PER_NOTIFY]
                        payload = msgspec.json.encode(_Payload(self._origin, chunk)).decode()
                        await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, payload)
            except _CONNECTION_ERRORS as exc:
                log.warning("lost the wake-up sender connection (%s); connecting again", exc)
            finally:
                if connection is not None:
                    connection.terminate()
            await asyncio.sleep(_RECONNECT_SECONDS)


def _loss_of(connection: asyncpg.Connection) -> asyncio.Event:
    """Set when ``connection`` is lost."""
    lost = asyncio.Event()
    connection.add_termination_listener(lambda _: lost.set())
    return lost
