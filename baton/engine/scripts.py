"""JavaScript for INLINE tasks and SWITCH expressions, in V8 (mini-racer), bounded in time and memory.

Conductor's semantics: the script sees ``$``, the task's input, and its value is
the value of its last statement, so both ``$.a + 1`` and
``(function(){ return $.x > 1; })()`` work, and so do statement lists such as
``var x = $.a; x * 2``.

Each thread keeps one V8 context, made on first use (a few ms) and reused (an
evaluation costs well under a millisecond). Each script runs in a fresh
function scope through a direct ``eval``, so its ``var``, ``let`` and function
declarations stay local; globals it creates are deleted, and builtins it
reassigns on the global object are put back, after every evaluation. (Changes
to builtin prototypes are not undone; the context is shared by one thread's
scripts only.) A script stopped at its time or memory bound ends without its
``finally``, so the globals are put back by a call of their own, and the
context is kept: V8 leaves it usable, while closing one soon after a timeout
crashed the process in mini-racer 0.14.1 (a segfault freeing the context, seen
when a loop ran on the thread). Only after any other engine failure is the
context thrown away, and the next evaluation makes a new one.

Errors come back as values, never as exceptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from py_mini_racer import JSOOMException, JSTimeoutException, MiniRacer

DEFAULT_TIMEOUT_MS: Final = 1000
DEFAULT_MEMORY_BYTES: Final = 32 * 1024 * 1024
_SETTLE_TIMEOUT_MS: Final = 1000

_BOOTSTRAP: Final = r"""
(function () {
  const g = globalThis;
  const parse = JSON.parse, stringify = JSON.stringify;
  const names = Object.getOwnPropertyNames, define = Object.defineProperty;
  const baseline = new Map();
  // A global function: the script's direct eval sees only `$` (and `arguments`).
  const evaluate = (0, eval)("(function ($) { return eval(arguments[1]); })");
  function restore() {
    for (const name of names(g)) {
      if (!baseline.has(name)) {
        try { delete g[name]; } catch (e) {}
      } else if (g[name] !== baseline.get(name)) {
        try { g[name] = baseline.get(name); } catch (e) {}
      }
    }
  }
  function describe(e) {
    try {
      if (e instanceof Error) return e.name + ": " + e.message;
      return String(e);
    } catch (_) {
      return "Error: (an exception that cannot be printed)";
    }
  }
  define(g, "__batonReset", { value: restore, writable: false, configurable: false, enumerable: false });
  define(g, "__batonRun", {
    value: function (source, input) {
      try {
        const value = evaluate(parse(input), source);
        if (value === undefined) return "u";
        const text = stringify(value);
        return text === undefined ? "u" : "v" + text;
      } catch (e) {
        return "e" + describe(e);
      } finally {
        restore();
      }
    },
    writable: false, configurable: false, enumerable: false,
  });
  for (const name of names(g)) baseline.set(name, g[name]);
})();
"""

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class ScriptResult:
    """A script's value (JSON-compatible; ``undefined`` is None), or why there is none."""

    value: Any = None
    error: str | None = None
    limit: bool = False
    """The error is a bound (time, memory) the script hit."""

    @property
    def ok(self) -> bool:
        return self.error is None


class _ThreadContext(threading.local):
    racer: MiniRacer | None = None


_local = _ThreadContext()


def _make_racer() -> MiniRacer:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        racer = MiniRacer()
    else:
        # A MiniRacer made on a thread with a running event loop adopts that loop,
        # and then cannot apply timeouts; make it on a thread without one, so it
        # runs its own loop thread.
        made: list[MiniRacer | BaseException] = []

        def make() -> None:
            try:
                made.append(MiniRacer())
            except BaseException as exc:
                made.append(exc)

        maker = threading.Thread(target=make, name="baton-v8-init")
        maker.start()
        maker.join()
        if isinstance(made[0], BaseException):
            raise made[0]
        racer = made[0]
    racer.eval(_BOOTSTRAP)
    return racer


def discard_context() -> None:
    """Throw this thread's V8 context away (the next evaluation makes a new one)."""
    racer, _local.racer = _local.racer, None
    if racer is None:
        return
    with contextlib.suppress(Exception):  # closing a broken isolate
        racer.close()


def _recover(racer: MiniRacer) -> None:
    """After a script was stopped at a bound: put the globals back, or give the context up if that fails."""
    try:
        racer.eval("__batonReset()", timeout=_SETTLE_TIMEOUT_MS)
    except Exception:
        discard_context()


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else text


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
    code = f"__batonRun({json.dumps(source)}, {json.dumps(input_json)})"
    try:
        racer = _local.racer
        if racer is None:
            racer = _local.racer = _make_racer()
    except Exception as exc:
        return ScriptResult(error=f"script engine unavailable: {_first_line(str(exc))}")
    try:
        raw = racer.eval(code, timeout=max(1, timeout_ms), max_memory=memory_bytes)
    except JSTimeoutException:
        _recover(racer)
        return ScriptResult(error=f"script timed out after {timeout_ms} ms")
    except JSOOMException:
        _recover(racer)
        return ScriptResult(error="script exceeded memory limit")
    except Exception as exc:
        discard_context()
        return ScriptResult(error=f"script failed: {_first_line(str(exc))}")
    if not isinstance(raw, str) or not raw:
        discard_context()
        return ScriptResult(error="script failed: the engine returned no result")
    tag, body = raw[0], raw[1:]
    if tag == "v":
        try:
            return ScriptResult(value=_decode(body))
        except msgspec.DecodeError as exc:  # pragma: no cover - V8's JSON is valid JSON
            return ScriptResult(error=f"script result is not JSON: {exc}")
    if tag == "u":
        return ScriptResult(value=None)
    return ScriptResult(error=body or "Error")
