"""A webhook receiver on a real socket: records each POST's exact bytes and headers, answers as told."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    """Lower-case names."""
    raw: bytes
    answered: int

    @property
    def body(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.raw)
        return value

    def signed_with(self, secret: str) -> bool:
        """The signature header is the HMAC-SHA256 of the exact bytes received, in lowercase hex."""
        expected = hmac.new(secret.encode(), self.raw, hashlib.sha256).hexdigest()
        return self.headers["x-hmac-signature"] == expected


Answer = Callable[[dict[str, Any]], int]


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answer: Answer = lambda body: 200
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                status = receiver.answer(json.loads(raw))
                with receiver._lock:
                    receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, raw, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def of_run(self, workflow_id: str, *, answered: int | None = 200) -> list[Received]:
        with self._lock:
            return [
                r
                for r in self.received
                if r.body["workflowRuntimeId"] == workflow_id and (answered is None or r.answered == answered)
            ]

    def wait_for(self, workflow_id: str, count: int, *, timeout: float = 15.0, answered: int = 200) -> list[Received]:
        """The first ``count`` deliveries of the run answered ``answered``, waiting for them to come."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.of_run(workflow_id, answered=answered)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(f"{len(self.of_run(workflow_id))} of {count} deliveries for {workflow_id} came")


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver._server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver._server.shutdown()
        receiver._server.server_close()


async def arrival(receiver: Receiver, workflow_id: str, count: int, *, timeout: float = 15.0) -> list[Received]:
    """``Receiver.wait_for`` without holding the event loop (for tests driving the service in process)."""
    import asyncio

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = receiver.of_run(workflow_id)
        if len(got) >= count:
            return got
        await asyncio.sleep(0.02)
    raise AssertionError(f"{len(receiver.of_run(workflow_id))} of {count} deliveries for {workflow_id} came")
