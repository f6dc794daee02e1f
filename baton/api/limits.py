"""A bound on request body size, checked as the body arrives (not after it is all in memory)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from baton.errors import BatonError


class PayloadTooLarge(BatonError):
    """The request body is larger than the server accepts."""


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        limit = self._max
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"body: larger than the limit of {limit} bytes")
            return message

        await self._app(scope, limited, send)
