"""Bounds on a request as it arrives, before any route sees it.

* the body's size, counted as the body arrives (not after it is all in memory): 413;
* the time the body takes to arrive, from when its headers were read: 408, and the connection is closed;
* control characters in the path (any) or a NUL in a query parameter: 400 naming where. PostgreSQL
  cannot hold a NUL in text, and every name and id a path or query carries ends up in a query;
* a client that goes away before its body is complete: nothing to answer, one debug line, no traceback.

The body's bounds are raised as errors inside the route reading it, so each surface answers them in its own
shape (``api/errors.py``); a bad path or query is refused before any route is chosen, in the ``ErrorBody`` given.
"""

from __future__ import annotations

import asyncio
import logging
import re
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from baton.api.responses import ErrorBody
from baton.errors import BatonError, FieldError

log = logging.getLogger(__name__)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class PayloadTooLarge(BatonError):
    """The request body is larger than the server accepts."""


class BodyReadTimeout(BatonError):
    """The request body did not arrive in time."""


def _client(scope: Scope) -> str:
    client = scope.get("client")
    return f"{client[0]}:{client[1]}" if client else "a client"


def target_problem(scope: Scope) -> tuple[str, str] | None:
    """(where, what) when the path or a query parameter holds a character no name or id may hold."""
    path: str = scope.get("path", "")
    found = _CONTROL.search(path)
    if found:
        return "path", f"must not hold control characters (U+{ord(found.group()):04X} at {found.start()})"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            if "\x00" in name:
                return "query", "a parameter's name holds a NUL character (%00)"
            if "\x00" in value:
                return name, "must not hold a NUL character (%00)"
    return None


class RequestLimits:
    def __init__(self, app: ASGIApp, max_bytes: int, body_read_timeout_ms: int, refusal_body: ErrorBody) -> None:
        self._app = app
        self._refusal_body = refusal_body
        self._max = max_bytes
        self._timeout = body_read_timeout_ms / 1000

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        problem = target_problem(scope)
        if problem is not None:
            where, message = problem
            response = self._refusal_body(400, f"{where}: {message}", [FieldError(where, message)])
            await response(scope, receive, send)
            return
        limit = self._max
        timeout_ms = round(self._timeout * 1000)
        deadline = asyncio.get_running_loop().time() + self._timeout
        received = 0
        body_complete = False

        async def limited() -> Message:
            nonlocal received, body_complete
            if body_complete:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                log.debug("%s: request body not complete after %d ms: 408", _client(scope), timeout_ms)
                raise BodyReadTimeout(f"body: did not arrive within {timeout_ms} ms") from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"body: larger than the limit of {limit} bytes")
                body_complete = not message.get("more_body", False)
            else:
                body_complete = True
            return message

        try:
            await self._app(scope, limited, send)
        except ClientDisconnect:
            log.debug("%s went away before its request body was complete", _client(scope))
