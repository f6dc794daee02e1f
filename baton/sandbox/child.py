"""A sandbox child: ``python -m baton.sandbox.child '<Config JSON>'`` evaluates requests one at a time.

It imports only what its kind needs (mini-racer or jq, and msgspec), answers on
the original stdout (fd 1 is pointed at stderr, so stray prints cannot corrupt
the protocol, ``baton.sandbox.protocol``), ignores SIGINT (the parent decides
when it ends), dies with its parent (PR_SET_PDEATHSIG, which Linux ties to the
parent's thread that started it, the event loop's; and on EOF on stdin), and
never outlives a request it cannot answer. A JavaScript child bounds its scripts
itself (V8 stops them at their time and heap limits) and lives under RLIMIT_DATA
(array buffers are outside V8's heap); a jq child lives under
RLIMIT_AS and is killed by its parent at its time bound, since jq's C code
cannot be interrupted.
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import sys
from collections.abc import Callable

import msgspec

from baton.sandbox.protocol import HEADER, MAX_FRAME_BYTES, Config, Request, Response, frame, request_decoder
from baton.sandbox.results import memory_limit_text, output_limit_text, time_limit_text

_PR_SET_PDEATHSIG = 1
_JS_DATA_HEADROOM_FACTOR = 4
_JS_DATA_SLACK_BYTES = 64 << 20
_ARRAY_BUFFER_FAILED = "RangeError: Array buffer allocation failed"

Handler = Callable[[Request], Response]


def _die_with_parent(parent_pid: int) -> None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: EOF on stdin still ends the child
        pass
    if os.getppid() != parent_pid:  # the parent died before the prctl took effect
        os._exit(0)


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _data_bytes() -> int:
    """This process's private writable memory now (VmData), in bytes."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmData:"):
                return int(line.split()[1]) * 1024
    return 0


def _js_handler(config: Config) -> Handler:
    from baton.sandbox.v8 import Outcome, V8Context

    context = V8Context(keep_broken=True)
    context.warm()
    context.run("[$].length", "{}", timeout_ms=config.timeout_ms, memory_bytes=config.memory_bytes)  # compile the path
    # V8's hard limit covers its heap; array buffers live outside it. Bound the data
    # the process can add beyond what it holds now (V8 reserves its address space
    # without writing to it, which RLIMIT_DATA does not count).
    data = _data_bytes() + _JS_DATA_HEADROOM_FACTOR * config.memory_bytes + _JS_DATA_SLACK_BYTES
    resource.setrlimit(resource.RLIMIT_DATA, (data, data))
    timeout_text = time_limit_text(config.timeout_ms)
    memory_text = memory_limit_text(config.memory_bytes)

    def handle(request: Request) -> Response:
        outcome = context.run(
            request.source,
            request.input.decode("utf-8", "replace"),
            timeout_ms=config.timeout_ms,
            memory_bytes=config.memory_bytes,
        )
        response = answer(request, outcome)
        return msgspec.structs.replace(response, retire=True) if context.broke else response

    def answer(request: Request, outcome: Outcome) -> Response:
        if outcome.kind == "value":
            return Response(request.id, value=outcome.text.encode())
        if outcome.kind == "undefined":
            return Response(request.id)
        if outcome.kind == "timeout":
            return Response(request.id, error=timeout_text, limit=True)
        if outcome.kind == "memory" or outcome.text == _ARRAY_BUFFER_FAILED:
            return Response(request.id, error=memory_text, limit=True)
        return Response(request.id, error=outcome.text)

    return handle


def _jq_handler(config: Config) -> Handler:
    from baton.sandbox import jq_eval

    encode = msgspec.json.Encoder().encode
    resource.setrlimit(resource.RLIMIT_AS, (config.memory_bytes, config.memory_bytes))
    memory_text = memory_limit_text(config.memory_bytes)
    output_text = output_limit_text(config.max_output_bytes)

    def handle(request: Request) -> Response:
        try:
            result = jq_eval.run(request.source, text=request.input.decode("utf-8", "replace"))
            if result.error is not None:
                return Response(request.id, error=result.error)
            value = encode(result.result_list)
        except MemoryError:
            return Response(request.id, error=memory_text, limit=True, retire=True)
        if len(value) > config.max_output_bytes:
            return Response(request.id, error=output_text, limit=True)
        return Response(request.id, value=value)

    return handle


def serve(config: Config, requests_fd: int, answers_fd: int) -> None:
    """Answer requests until the parent closes our stdin."""
    handler = _js_handler(config) if config.kind == "js" else _jq_handler(config)
    encode = msgspec.msgpack.Encoder().encode
    _write_all(answers_fd, frame(encode(Response(0))))
    while True:
        header = _read_exactly(requests_fd, HEADER.size)
        if header is None:
            return
        (size,) = HEADER.unpack(header)
        if size > MAX_FRAME_BYTES:
            return
        payload = _read_exactly(requests_fd, size)
        if payload is None:
            return
        request = request_decoder.decode(payload)
        try:
            response = handler(request)
        except MemoryError:
            response = Response(request.id, error=memory_limit_text(config.memory_bytes), limit=True, retire=True)
        except Exception as exc:  # a defect in the handler: answer, then let the parent replace us
            response = Response(request.id, error=f"sandbox failed: {type(exc).__name__}: {exc}", retire=True)
        _write_all(answers_fd, frame(encode(response)))
        if response.retire:
            return


def main() -> None:
    config = msgspec.json.decode(sys.argv[1], type=Config)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent(config.parent_pid)
    answers_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        serve(config, 0, answers_fd)
    finally:
        os._exit(0)  # mini-racer can hang in its atexit clean-up


if __name__ == "__main__":
    main()
