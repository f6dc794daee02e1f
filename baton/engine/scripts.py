"""JavaScript for INLINE tasks and SWITCH expressions, in V8 (mini-racer), in this process.

Conductor's semantics: the script sees ``$``, the task's input, and its value is
the value of its last statement. The evaluation itself, and how scripts are kept
from affecting each other (a locked-down context whose globals are put back after
every script), is ``baton.sandbox.v8``, shared with the sandbox's children. Here
each thread keeps one context, made on first use (tens of ms) and reused (an
evaluation costs well under a millisecond). It runs on the calling thread, so the
server evaluates through ``baton.sandbox.Sandbox`` (child processes) and uses this
only when it has none (tests, tools).

Errors come back as values, never as exceptions.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any, Final

import msgspec

from baton.sandbox.results import ScriptResult
from baton.sandbox.v8 import V8Context

__all__ = ["DEFAULT_MEMORY_BYTES", "DEFAULT_TIMEOUT_MS", "ScriptResult", "discard_context", "evaluate"]

DEFAULT_TIMEOUT_MS: Final = 1000
DEFAULT_MEMORY_BYTES: Final = 32 * 1024 * 1024

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class _ThreadContext(threading.local):
    context: V8Context | None = None


_local = _ThreadContext()


def _context() -> V8Context:
    context = _local.context
    if context is None:
        context = _local.context = V8Context()
    return context


def discard_context() -> None:
    """Throw this thread's V8 context away (the next evaluation makes a new one)."""
    context, _local.context = _local.context, None
    if context is not None:
        context.close()


def evaluate(
    source: str,
    input_data: Mapping[str, Any],
    *,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    memory_bytes: int = DEFAULT_MEMORY_BYTES,
) -> ScriptResult:
    """Evaluate ``source`` with ``$`` bound to ``input_data``; the value of its last statement."""
    if not isinstance(source, str):
        return ScriptResult(error=f"script must be a string, not {type(source).__name__}")
    try:
        input_json = _encode(input_data).decode()
    except (TypeError, ValueError, OverflowError) as exc:
        return ScriptResult(error=f"script input is not JSON: {exc}")
    outcome = _context().run(source, input_json, timeout_ms=timeout_ms, memory_bytes=memory_bytes)
    if outcome.kind == "value":
        try:
            return ScriptResult(value=_decode(outcome.text))
        except msgspec.DecodeError as exc:  # pragma: no cover - V8's JSON is valid JSON
            return ScriptResult(error=f"script result is not JSON: {exc}")
    if outcome.kind == "undefined":
        return ScriptResult(value=None)
    if outcome.kind == "timeout":
        return ScriptResult(error=f"script timed out after {timeout_ms} ms", limit=True)
    if outcome.kind == "memory":
        return ScriptResult(error="script exceeded memory limit", limit=True)
    return ScriptResult(error=outcome.text)
