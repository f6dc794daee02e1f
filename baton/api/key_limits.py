"""Limits per key: requests per second (a token bucket), concurrent long polls, and the size of a trigger's request.

The key is the request's access key (``current_principal().key_id``, set by authentication before these run), or
the client's address without one. ``KeyLimits`` wraps each route of a surface (``Surface(route_middleware=...)``),
inside authentication, and refuses a request over its key's rate before the route's endpoint runs;
``long_poll_slot`` holds a key's long-poll slot in the poll route; ``TriggerSizes`` bounds an HTTP-endpoint
trigger's headers (431) and path (414). Each refusal is an error the surface answers in its own shape. Why the
counts live in the process and not the database: docs/design.md, "Limits per key".
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from baton.errors import BatonError
from baton.model.access import UNAUTHENTICATED_ADMIN
from baton.service.acting import current_principal

_LIMITER_SCOPE_KEY = "baton.key_limiter"
_PRUNE_FLOOR = 10_000
"""Buckets kept before the idle ones (full again) are dropped."""


class TooManyRequests(BatonError):
    """The key is over one of its limits; try again later."""

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class HeadersTooLarge(BatonError):
    """The request's headers are larger than the server accepts."""


class PathTooLong(BatonError):
    """The request's path (with its query) is longer than the server accepts."""


def limit_key(scope: Scope) -> str:
    """Whose budget a request spends: its access key, or its client's address without one."""
    principal = current_principal()
    if principal is not None and principal.key_id != UNAUTHENTICATED_ADMIN.key_id:
        return f"key {principal.key_id}"
    client = scope.get("client")
    return f"client {client[0]}" if client else "client unknown"


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class KeyLimiter:
    """The counts of every key in this process: a token bucket each, and its long polls open."""

    def __init__(
        self,
        *,
        requests_per_second: float,
        burst: int,
        max_long_polls: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = requests_per_second
        self._burst = float(burst if burst > 0 else max(1, math.ceil(requests_per_second)))
        self._max_long_polls = max_long_polls
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._prune_at = _PRUNE_FLOOR
        self._long_polls: dict[str, int] = {}

    @property
    def limits_rate(self) -> bool:
        """Whether requests per second are limited (off: ``admit`` need not be called)."""
        return self._rate > 0

    @property
    def tracked_keys(self) -> int:
        """How many keys' buckets are held (what the limiter costs in memory)."""
        return len(self._buckets)

    def admit(self, key: str) -> None:
        """Spend one of ``key``'s tokens; TooManyRequests when it has none."""
        if self._rate <= 0:
            return
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._prune_at:
                self._prune(now)
            bucket = self._buckets[key] = _Bucket(tokens=self._burst, at=now)
        else:
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.at) * self._rate)
            bucket.at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return
        wait = max(1, math.ceil((1 - bucket.tokens) / self._rate))
        raise TooManyRequests(
            f"Too many requests from {key}: over {self._rate:g} a second; try again in {wait} s", retry_after_s=wait
        )

    @contextmanager
    def long_poll(self, key: str) -> Iterator[None]:
        """Hold one of ``key``'s long-poll slots while the block runs; TooManyRequests when all are taken."""
        held = self._long_polls.get(key, 0)
        if 0 < self._max_long_polls <= held:
            raise TooManyRequests(
                f"Too many long polls from {key}: {held} open, at most {self._max_long_polls}", retry_after_s=1
            )
        self._long_polls[key] = held + 1
        try:
            yield
        finally:
            remaining = self._long_polls[key] - 1
            if remaining:
                self._long_polls[key] = remaining
            else:
                del self._long_polls[key]

    def _prune(self, now: float) -> None:
        """Forget the buckets that have filled up again (a new one starts full): memory bounded by the keys active
        within the last ``burst / rate`` seconds."""
        self._buckets = {
            key: bucket
            for key, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.at) * self._rate < self._burst
        }
        self._prune_at = max(_PRUNE_FLOOR, 2 * len(self._buckets))


class KeyLimits:
    """ASGI middleware around a route: a request over its key's rate is refused (``TooManyRequests``, raised for
    the surface's exception handlers); the limiter is left in the scope for ``long_poll_slot``."""

    def __init__(self, app: ASGIApp, limiter: KeyLimiter) -> None:
        self._app = app
        self._limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self._limiter.limits_rate:
                self._limiter.admit(limit_key(scope))
            scope[_LIMITER_SCOPE_KEY] = self._limiter
        await self._app(scope, receive, send)


def long_poll_slot(request: Request) -> AbstractContextManager[None]:
    """A slot of the request's key for a long poll, held while the block runs (no limit where ``KeyLimits`` does
    not wrap the route)."""
    limiter: KeyLimiter | None = request.scope.get(_LIMITER_SCOPE_KEY)
    if limiter is None:
        return nullcontext()
    return limiter.long_poll(limit_key(request.scope))


class TriggerSizes:
    """ASGI middleware around the HTTP-endpoint triggers' route: headers larger than ``max_header_bytes`` (names
    and values) are a ``HeadersTooLarge`` (431), a path and query longer than ``max_path_bytes`` (as sent,
    percent-encoded) a ``PathTooLong`` (414); 0 turns either off."""

    def __init__(self, app: ASGIApp, max_header_bytes: int, max_path_bytes: int) -> None:
        self._app = app
        self._max_header_bytes = max_header_bytes
        self._max_path_bytes = max_path_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if self._max_header_bytes > 0:
                size = sum(len(name) + len(value) for name, value in scope["headers"])
                if size > self._max_header_bytes:
                    raise HeadersTooLarge(f"headers: {size} bytes, larger than the limit of {self._max_header_bytes}")
            if self._max_path_bytes > 0:
                raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
                query: bytes = scope.get("query_string", b"")
                size = len(raw_path) + (len(query) + 1 if query else 0)
                if size > self._max_path_bytes:
                    raise PathTooLong(
                        f"path: {size} bytes with its query, longer than the limit of {self._max_path_bytes}"
                    )
        await self._app(scope, receive, send)
