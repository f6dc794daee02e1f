"""Test servers started by forking a process that has already imported what ``baton serve`` imports.

A ``baton serve`` spends about half a CPU-second importing before it listens, and the suite starts some two
hundred of them. Each pytest process starts this module once (``python -m tests.server_forks``, talked to over
its stdin and stdout, a JSON line each way); it imports the server's modules and then forks a server per request.
The child sets the environment, the working directory and the log it was given and runs ``baton.cli.main`` with
the arguments, as ``python -m baton`` would: the same code in a process of its own, which a test can signal, kill
and read in ``/proc`` like any other. Only an environment that differs from the pytest process's as it started
in more than Baton's settings (``BATON_*``; a variable read when a process starts, such as ``MALLOC_ARENA_MAX``,
would not take effect in a fork) is started with a fresh interpreter instead (``may_fork`` decides).

The forks are this process's children, so it reaps them and answers ``poll`` and ``wait`` for them:
``ForkedServer`` is the handle a test holds, with the part of ``subprocess.Popen``'s interface
``tests.conftest.ServerProcess`` uses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
SETTINGS_PREFIX = "BATON_"
PER_TEST_VARIABLES = frozenset({"PYTEST_CURRENT_TEST"})
"""Variables that pytest changes between tests: a fork need not match them."""
LAUNCHER_ENVIRONMENT = {
    **{name: value for name, value in os.environ.items() if name not in PER_TEST_VARIABLES},
    "PYTHONUNBUFFERED": "1",
}
"""The environment of the pytest process as it started (before any test set a variable), and unbuffered output:
what the launcher runs in, and what a server's environment must match outside Baton's settings to be forked."""


class ForkedServer:
    """A server forked by the launcher: signalled directly, polled and waited for through the launcher."""

    def __init__(self, launcher: ServerLauncher, pid: int) -> None:
        self._launcher = launcher
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            self.returncode = self._launcher.ask({"op": "wait", "pid": self.pid, "timeout": 0})["returncode"]
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            answer = self._launcher.ask({"op": "wait", "pid": self.pid, "timeout": timeout})
            if answer["returncode"] is None:
                raise subprocess.TimeoutExpired(["baton", "serve"], timeout or 0)
            self.returncode = answer["returncode"]
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            os.kill(self.pid, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ServerLauncher:
    """This pytest process's launcher: started with its first server, gone with the process."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    def start(
        self, arguments: list[str], environment: Mapping[str, str], log: IO[bytes]
    ) -> ForkedServer | subprocess.Popen[bytes]:
        """``baton`` with ``arguments``, its output appended to ``log``: forked when the environment allows it."""
        if not may_fork(environment):
            command = [sys.executable, "-m", "baton", *arguments]
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=dict(environment))
        if self._process is None or self._process.poll() is not None:  # the first fork, or the launcher died
            self.close()
            self._process = subprocess.Popen(
                [sys.executable, "-m", "tests.server_forks"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=ROOT,
                env=LAUNCHER_ENVIRONMENT,
            )
        request = {
            "op": "fork",
            "arguments": arguments,
            "environment": dict(environment),
            "log": str(Path(log.name).resolve()),
            "cwd": os.getcwd(),
        }
        log.flush()
        return ForkedServer(self, self.ask(request)["pid"])

    def close(self) -> None:
        """The launcher reads the end of its input and exits; the servers it forked are their tests' to stop."""
        if self._process is not None:
            assert self._process.stdin is not None and self._process.stdout is not None
            self._process.stdin.close()
            self._process.wait(timeout=10)
            self._process.stdout.close()
            self._process = None

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            assert self._process is not None and self._process.stdin and self._process.stdout
            self._process.stdin.write(json.dumps(request).encode() + b"\n")
            self._process.stdin.flush()
            line = self._process.stdout.readline()
        if not line:
            raise RuntimeError("the server launcher has exited")
        answer: dict[str, Any] = json.loads(line)
        return answer


def may_fork(environment: Mapping[str, str]) -> bool:
    """Whether a server with this environment can be forked: it differs from the launcher's in Baton's settings
    alone (and in what pytest changes per test)."""
    names = (set(environment) | set(LAUNCHER_ENVIRONMENT)) - PER_TEST_VARIABLES
    return all(
        name.startswith(SETTINGS_PREFIX) or environment.get(name) == LAUNCHER_ENVIRONMENT.get(name) for name in names
    )


def _run_server(request: dict[str, Any]) -> None:
    """In the forked child: become ``python -m baton <arguments>`` and exit with its code."""
    code = 1
    try:
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["environment"])
        log = os.open(request["log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        nothing = os.open(os.devnull, os.O_RDONLY)
        os.dup2(nothing, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(nothing)
        import baton
        from baton.cli import main

        sys.argv = [str(Path(baton.__file__).parent / "__main__.py"), *request["arguments"]]

        code = main(request["arguments"])
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, timeout: float | None, ended: dict[int, int]) -> int | None:
    deadline = None if timeout is None else time.monotonic() + timeout
    while pid not in ended:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            ended[pid] = os.waitstatus_to_exitcode(status)
        elif deadline is not None and time.monotonic() >= deadline:
            return None
        else:
            time.sleep(0.005)
    return ended[pid]


def _serve_requests() -> None:
    import uvicorn
    import uvicorn.lifespan.on
    import uvicorn.loops.uvloop
    import uvloop

    import baton.cli
    import baton.http_protocol
    import baton.server
    import baton.store.postgres
    import baton.store.sqlite

    del baton, uvicorn, uvloop
    assert threading.active_count() == 1, "a fork must not be made with threads running"
    requests, answers = sys.stdin.buffer, sys.stdout.buffer
    ended: dict[int, int] = {}
    for line in requests:
        request = json.loads(line)
        if request["op"] == "fork":
            pid = os.fork()
            if pid == 0:
                _run_server(request)
            answer: dict[str, Any] = {"pid": pid}
        else:
            answer = {"returncode": _wait(request["pid"], request["timeout"], ended)}
        answers.write(json.dumps(answer).encode() + b"\n")
        answers.flush()


if __name__ == "__main__":
    _serve_requests()
