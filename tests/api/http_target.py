"""A real HTTP server on a free local port, in a thread: what HTTP and EVENT tasks call in tests.

Each path answers as it says: ``/json`` a JSON object, ``/text`` plain text,
``/status/<code>`` that status, ``/flaky/<n>`` 503 for the first n calls and then
200, ``/gate`` 200 once ``gate`` is set (it holds the call until then, up to 30 s).
Every request is recorded (method, path, headers, body) as it arrives.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class HttpTarget:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self.gate = threading.Event()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with target._lock:
                    target.seen.append(Seen(self.command, self.path, dict(self.headers.items()), body))
                    calls = target._calls[self.path] = target._calls.get(self.path, 0) + 1
                status, content_type, payload = target.answer(self.command, self.path, body, calls)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("X-Target", "yes")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def answer(self, method: str, path: str, body: bytes, calls: int) -> tuple[int, str, bytes]:
        if path == "/gate":
            opened = self.gate.wait(30)
            return (200, "application/json", b'{"passed": true}') if opened else (504, "text/plain", b"shut")
        if path.startswith("/json"):
            return 200, "application/json", json.dumps({"method": method, "path": path, "n": 42}).encode()
        if path.startswith("/text"):
            return 200, "text/plain", b"plain words"
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            return code, "text/plain", f"answered {code}".encode()
        if path.startswith("/flaky/"):
            failures = int(path.rsplit("/", 1)[1])
            if calls <= failures:
                return 503, "text/plain", b"not yet"
            return 200, "application/json", b'{"ok": true}'
        return 404, "text/plain", b"no such path"

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def http_target() -> Iterator[HttpTarget]:
    target = HttpTarget()
    target.start()
    try:
        yield target
    finally:
        target.stop()
