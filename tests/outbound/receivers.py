"""A tiny HTTP receiver on a chosen loopback address: answers 200 JSON, or redirects where ``/redirect?to=`` says; over
TLS when given a server context. ``call_url`` runs a one-step workflow whose HTTP task calls a URL."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.helpers import register, start, unique, wait_for_status


class Receiver:
    def __init__(self, host: str, tls: ssl.SSLContext | None = None) -> None:
        self.paths: list[str] = []
        received = self.paths

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                received.append(self.path)
                url = urlsplit(self.path)
                if url.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", parse_qs(url.query)["to"][0])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"host": self.headers.get("Host"), "path": url.path}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer((host, 0), Handler)
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
        scheme = "http" if tls is None else "https"
        self.url = f"{scheme}://{host}:{self._server.server_address[1]}"

    def run(self) -> None:
        self._server.serve_forever(poll_interval=0.05)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@contextmanager
def receiving(host: str, tls: ssl.SSLContext | None = None) -> Iterator[Receiver]:
    receiver = Receiver(host, tls)
    thread = threading.Thread(target=receiver.run, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.close()
        thread.join(5)


def call_url(client: httpx.Client, url: str, status: str) -> dict[str, Any]:
    """Run a workflow whose one HTTP task GETs ``url`` until it is ``status``: the task, with the run's reason."""
    name = unique("outbound_http")
    request = {"uri": url, "method": "GET"}
    step = {"name": "call", "taskReferenceName": "call", "type": "HTTP", "inputParameters": {"http_request": request}}
    register(client, {"name": name, "version": 1, "tasks": [step]})
    run = wait_for_status(client, start(client, name), status)
    [task] = run["tasks"]
    return {**task, "runReason": run.get("reasonForIncompletion", "")}
