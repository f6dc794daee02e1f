"""Support for the hostile-input tests: a watch on the server's memory, attack steps, a normal run, raw clients.

Every call to the server has a timeout and turns "no answer" into an assertion that says so, because
the attacks these tests make froze the server before they were bounded. The memory watch kills a
server that grows past a hard cap, so an unbounded attack fails its test instead of exhausting the
machine. The /health prober is in ``health_prober.py``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx

from tests.helpers import ADMIN_HEADER_LINES

MIB = 1024 * 1024
API_TIMEOUT = 10.0
"""Seconds any one API call may take before the test calls the server frozen."""
TERMINAL = frozenset({"COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"})


def proc_status_bytes(pid: int, field: str) -> int:
    """A memory figure of a process from /proc/<pid>/status (``VmRSS``, ``VmHWM``: the peak RSS), in bytes."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    raise LookupError(f"{field} is not in /proc/{pid}/status")


class RssWatch:
    """Samples a process's resident memory every 20 ms, keeps the peak, and SIGKILLs it past ``kill_above``.

    ``pid_of`` is asked each time (None while there is no process), so the watch follows a server that
    is killed and started again.
    """

    def __init__(self, pid_of: Callable[[], int | None], kill_above: int = 1024 * MIB) -> None:
        self._pid_of = pid_of
        self.kill_above = kill_above
        self.peak = 0
        self.killed: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-watch", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            pid = self._pid_of()
            if pid is None:
                continue
            try:
                rss = proc_status_bytes(pid, "VmRSS")
            except (OSError, LookupError):
                continue
            self.peak = max(self.peak, rss)
            if rss > self.kill_above and self.killed is None:
                self.killed = f"the server grew to {rss // MIB} MiB (cap {self.kill_above // MIB} MiB) and was killed"
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)

    def __enter__(self) -> RssWatch:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


# Steps -------------------------------------------------------------------------------------------------------


def inline(ref: str, expression: str, **inputs: Any) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "INLINE",
        "inputParameters": {"evaluatorType": "javascript", "expression": expression, **inputs},
    }


def jq(ref: str, query: str, **inputs: Any) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "JSON_JQ_TRANSFORM",
        "inputParameters": {"queryExpression": query, **inputs},
    }


def js_switch(ref: str, expression: str, cases: dict[str, list[dict[str, Any]]], **inputs: Any) -> dict[str, Any]:
    return {
        "name": ref,
        "taskReferenceName": ref,
        "type": "SWITCH",
        "evaluatorType": "javascript",
        "expression": expression,
        "inputParameters": inputs,
        "decisionCases": cases,
        "defaultCase": [],
    }


def workflow(name: str, tasks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": name, "version": 1, "tasks": tasks, "schemaVersion": 2, **extra}


# Calls with a deadline ---------------------------------------------------------------------------------------


def call(client: httpx.Client, method: str, url: str, timeout: float = API_TIMEOUT, **kwargs: Any) -> httpx.Response:
    """One request; a server that does not answer in ``timeout`` seconds fails the test, saying so."""
    try:
        return client.request(method, url, timeout=timeout, **kwargs)
    except httpx.TimeoutException:
        raise AssertionError(f"{method} {url}: no answer within {timeout:.0f} s (the server is frozen)") from None
    except httpx.TransportError as exc:
        raise AssertionError(f"{method} {url}: {type(exc).__name__}: {exc} (the server is down?)") from None


def register(client: httpx.Client, definition: dict[str, Any]) -> None:
    response = call(client, "POST", "/api/metadata/workflow", json=definition, params={"overwrite": "true"})
    assert response.status_code == 200, response.text


def start(client: httpx.Client, name: str, payload: dict[str, Any] | None = None) -> str:
    response = call(client, "POST", f"/api/workflow/{name}", json=payload or {})
    assert response.status_code == 200, response.text
    return response.text


def get_run(client: httpx.Client, workflow_id: str, include_tasks: bool = True) -> dict[str, Any]:
    response = call(client, "GET", f"/api/workflow/{workflow_id}", params={"includeTasks": str(include_tasks).lower()})
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


def wait_for_end(client: httpx.Client, workflow_id: str, timeout: float = 30.0) -> dict[str, Any]:
    """The run (with its tasks) once it has ended; a server that stops answering meanwhile fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        run = get_run(client, workflow_id, include_tasks=False)
        if run["status"] in TERMINAL:
            return get_run(client, workflow_id)
        if time.monotonic() > deadline:
            raise AssertionError(f"run {workflow_id} is still {run['status']} after {timeout:.0f} s")
        time.sleep(0.05)


def execute(client: httpx.Client, name: str, payload: dict[str, Any], timeout: float = 20.0) -> dict[str, Any]:
    """Start a run and wait for its end: the execute route, then polling if it answered before the end."""
    response = call(
        client, "POST", f"/api/workflow/execute/{name}", json=payload, params={"waitForSeconds": "10"}, timeout=timeout
    )
    assert response.status_code in (200, 206), response.text
    return wait_for_end(client, response.json()["workflowId"], timeout=timeout)


def task_of(run: dict[str, Any], ref: str) -> dict[str, Any]:
    """The latest attempt of the task with this reference name."""
    found: list[dict[str, Any]] = [t for t in run.get("tasks", []) if t["referenceTaskName"] == ref]
    assert found, f"no task {ref!r} in run {run['workflowId']}: {[t['referenceTaskName'] for t in run['tasks']]}"
    return found[-1]


def reasons(run: dict[str, Any]) -> str:
    """The run's reason for incompletion and every task's, one per line (what a bound's message must be in)."""
    lines = [f"run: {run.get('reasonForIncompletion')}"]
    lines += [
        f"{t['referenceTaskName']} {t['status']}: {t.get('reasonForIncompletion')}"
        for t in run.get("tasks", [])
        if t.get("reasonForIncompletion")
    ]
    return "\n".join(lines)


# A normal run, to show the server still works after an attack -----------------------------------------------

NORMAL = workflow(
    "hostile_normal",
    [
        inline("calc", "({amount: $.x * 2})", x="${workflow.input.x}"),
        js_switch(
            "size",
            "$.amount > 10 ? 'big' : 'small'",
            {
                "big": [inline("label_big", "'big ' + $.a", a="${calc.output.result.amount}")],
                "small": [inline("label_small", "'small ' + $.a", a="${calc.output.result.amount}")],
            },
            amount="${calc.output.result.amount}",
        ),
    ],
    outputParameters={
        "amount": "${calc.output.result.amount}",
        "big": "${label_big.output.result}",
        "small": "${label_small.output.result}",
    },
)


def assert_normal_run(client: httpx.Client) -> None:
    """A small INLINE + SWITCH workflow completes with the right output, both ways of the switch."""
    register(client, NORMAL)
    big = execute(client, "hostile_normal", {"x": 7})
    assert (big["status"], big["output"]) == ("COMPLETED", {"amount": 14, "big": "big 14", "small": None}), big
    small = execute(client, "hostile_normal", {"x": 2})
    assert (small["status"], small["output"]) == ("COMPLETED", {"amount": 4, "big": None, "small": "small 4"}), small


# Raw connections ---------------------------------------------------------------------------------------------


def _request_head(port: int, path: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"{ADMIN_HEADER_LINES}Content-Length: {length}\r\n\r\n"
    ).encode()


def _body(length: int) -> bytes:
    filler = b'{"pad": "' + b"x" * length
    return filler[:length]


def send_half_bodies(port: int, path: str, clients: int, body_length: int = 4000) -> None:
    """``clients`` connections each send the headers and half the body, then go away (half close, half reset)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(clients):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sockets.append(sock)
            sock.sendall(_request_head(port, path, body_length) + _body(body_length)[: body_length // 2])
        time.sleep(0.2)
    finally:
        for index, sock in enumerate(sockets):
            if index % 2:
                # An abortive close: the server sees a reset rather than an end of stream.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            sock.close()


def stall_mid_body(port: int, path: str, wait: float, body_length: int = 4000) -> tuple[float, str]:
    """Send the headers and half a body, then nothing: how long until the server answered or closed, and how.

    The outcome is the status line of an answer, ``closed`` or ``reset``; ``no answer`` after ``wait`` seconds.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(_request_head(port, path, body_length) + _body(body_length)[: body_length // 2])
        started = time.monotonic()
        sock.settimeout(wait)
        try:
            data = sock.recv(4096)
        except TimeoutError:
            return time.monotonic() - started, "no answer"
        except ConnectionResetError:
            return time.monotonic() - started, "reset"
        elapsed = time.monotonic() - started
        if not data:
            return elapsed, "closed"
        return elapsed, data.split(b"\r\n", 1)[0].decode(errors="replace")
