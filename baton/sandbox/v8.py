"""One V8 context (mini-racer) made safe to share between unrelated scripts, one after another.

Conductor's semantics: a script sees ``$``, the task's input, and its value is the
value of its last statement, so ``$.a + 1``, ``(function(){ return $.x > 1; })()``
and ``var x = $.a; x * 2`` all work. Each script runs in a fresh function scope
through a direct ``eval``, so its ``var``, ``let`` and function declarations stay
local.

Isolation between scripts, by measurement the cheapest that holds (a new isolate
costs ~6 ms, an evaluation ~0.1 ms):

- lockdown at bootstrap: every object reachable from ``globalThis`` and from the
  intrinsics only syntax reaches (generator, async and iterator prototypes...) is
  frozen, so a script cannot change a builtin or a prototype for later scripts (in
  sloppy mode such an assignment silently does nothing). Assigning a few common
  names (``toString``, ``constructor``, ``message``...) to an ordinary object still
  works: those prototype properties become accessors that define an own property
  on the object instead (the "override mistake" of frozen prototypes).
- globals: names a script adds to the global object are deleted and builtins it
  reassigns are put back, before and after each evaluation (callbacks that run
  later, such as a resolved promise, can touch only globals).
- memory: mini-racer's hard limit is sticky until a full GC, so after a script
  hits it the heap is collected, and the context is replaced if that is not
  enough; a script that hit it while the heap still held an earlier script's
  garbage is run once more after the collection.
- mini-racer's ``setTimeout`` is removed; what a script can still schedule
  (a promise reaction, ``Atomics.waitAsync``) runs between evaluations, never during
  one, and can touch only globals, which the next evaluation puts back first.
  (Removing ``Atomics.waitAsync`` or taming ``Promise.prototype.then`` made
  mini-racer hang when the process exits.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import time
from dataclasses import dataclass
from typing import Any, Final, Literal

from py_mini_racer import JSOOMException, JSTimeoutException, MiniRacer
from py_mini_racer._exc import JSTerminatedException

SETTLE_TIMEOUT_MS: Final = 1000
_SETTLE_ATTEMPTS: Final = 3
_UNCANCELABLE_CALLBACK: Final = 0  # mini-racer's callback id whose answers go to its queue

Kind = Literal["value", "undefined", "error", "timeout", "memory", "failed"]

_BOOTSTRAP: Final = r"""
(function () {
  "use strict";
  const g = globalThis;
  const parse = JSON.parse, stringify = JSON.stringify;
  const names = Object.getOwnPropertyNames, define = Object.defineProperty;
  const ownKeys = Reflect.ownKeys, describeProp = Object.getOwnPropertyDescriptor;
  const getProto = Object.getPrototypeOf, freeze = Object.freeze;
  const exec = RegExp.prototype.exec, call = Function.prototype.call.bind(Function.prototype.call);
  const emptyPattern = /(?:)/;
  const baseline = new Map();
  // A global function: the script's direct eval sees only `$` (and `arguments`).
  const evaluate = (0, eval)("(function ($) { return eval(arguments[1]); })");

  // mini-racer's timers: a script cannot schedule a function for later.
  g.setTimeout = undefined;
  g.clearTimeout = undefined;
  g.__timer_manager = undefined;

  function restore() {
    for (const name of names(g)) {
      if (!baseline.has(name)) {
        try { delete g[name]; } catch (e) {}
      } else if (g[name] !== baseline.get(name)) {
        try { g[name] = baseline.get(name); } catch (e) {}
      }
    }
    call(exec, emptyPattern, "");  // RegExp.$1 and friends forget the last match
  }
  function describe(e) {
    try {
      if (e instanceof Error) return e.name + ": " + e.message;
      return String(e);
    } catch (_) {
      return "Error: (an exception that cannot be printed)";
    }
  }
  function run(source, input) {
    restore();
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
  }

  // Assigning these names to an ordinary object defines an own property, as before the freeze.
  function tame(proto, key) {
    const d = describeProp(proto, key);
    if (!d || !("value" in d) || !d.configurable) return;
    const value = d.value;
    define(proto, key, {
      get() { return value; },
      set(v) {
        if (this === proto || this === null || this === undefined) return;
        define(this, key, { value: v, writable: true, enumerable: true, configurable: true });
      },
      enumerable: d.enumerable, configurable: false,
    });
  }
  const errors = [Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError, AggregateError];
  for (const key of ["constructor", "toString", "toLocaleString", "valueOf", "hasOwnProperty",
                     "isPrototypeOf", "propertyIsEnumerable"]) tame(Object.prototype, key);
  for (const E of errors) for (const key of ["constructor", "name", "message", "toString"]) tame(E.prototype, key);
  for (const key of ["constructor", "toString", "call", "apply", "bind"]) tame(Function.prototype, key);
  for (const key of ["constructor", "toString", "join", "push"]) tame(Array.prototype, key);


  define(g, "__batonReset", { value: restore, writable: false, configurable: false, enumerable: false });
  define(g, "__batonRun", { value: run, writable: false, configurable: false, enumerable: false });

  // Lockdown: freeze everything reachable from the global object and the hidden intrinsics.
  const roots = [
    g, evaluate, run, restore,
    function* () {}, async function () {}, async function* () {}, () => {},
    [][Symbol.iterator](), new Map().entries(), new Set().values(), ""[Symbol.iterator](),
    /a/[Symbol.matchAll](""), (function* () {})(), (async function* () {})(),
    Object.getPrototypeOf(Int8Array),
  ];
  try { roots.push(__TimerManager); } catch (e) {}
  try { roots.push(new Intl.Segmenter().segment("")); } catch (e) {}
  const seen = new Set();
  while (roots.length) {
    const o = roots.pop();
    if (o === null || (typeof o !== "object" && typeof o !== "function") || seen.has(o)) continue;
    seen.add(o);
    roots.push(getProto(o));
    for (const key of ownKeys(o)) {
      const d = describeProp(o, key);
      if (d === undefined) continue;
      if ("value" in d) roots.push(d.value); else roots.push(d.get, d.set);
    }
  }
  for (const o of seen) if (o !== g) freeze(o);
  for (const name of names(g)) baseline.set(name, g[name]);
})();
"""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one evaluation gave: a value's JSON text, undefined, the script's error, or a bound."""

    kind: Kind
    text: str = ""


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


def first_line(text: str) -> str:
    """The first non-blank line of an engine's message."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else text


class V8Context:
    """A locked-down V8 context, made on first use and replaced when it breaks."""

    def __init__(self, *, keep_broken: bool = False) -> None:
        self._racer: MiniRacer | None = None
        self._memory_bytes = 0
        self._keep_broken = keep_broken
        self._graveyard: list[MiniRacer] = []
        self.broke = False
        """Set when a context had to be given up (a sandbox child then retires instead of going on)."""

    def warm(self) -> None:
        """Make the context now (a few ms) rather than on the first evaluation."""
        if self._racer is None:
            self._racer = _make_racer()

    def close(self) -> None:
        """Throw the context away (the next evaluation makes a new one)."""
        racer, self._racer = self._racer, None
        self._memory_bytes = 0
        if racer is not None and self._keep_broken:
            # Closing a broken isolate can crash the process; one that will exit anyway keeps it.
            self.broke = True
            self._graveyard.append(racer)
        elif racer is not None:
            with contextlib.suppress(Exception):  # closing a broken isolate
                racer.close()

    def run(self, source: str, input_json: str, *, timeout_ms: int, memory_bytes: int) -> Outcome:
        """Evaluate ``source`` with ``$`` bound to the decoded ``input_json``."""
        try:
            self.warm()
        except Exception as exc:
            return Outcome("failed", f"script engine unavailable: {first_line(str(exc))}")
        started = time.monotonic()
        outcome = self._run_once(source, input_json, timeout_ms, memory_bytes)
        if outcome.kind == "memory" and self._racer is not None:
            # The earlier scripts' garbage may have been what crossed the limit: collect
            # it, and try once more in what is left of the time.
            left_ms = timeout_ms - int((time.monotonic() - started) * 1000)
            if left_ms > 0:
                retried = self._run_once(source, input_json, left_ms, memory_bytes)
                if retried.kind != "timeout":  # out of time on the retry: it was the memory after all
                    outcome = retried
        return outcome

    def _run_once(self, source: str, input_json: str, timeout_ms: int, memory_bytes: int) -> Outcome:
        racer = self._racer
        assert racer is not None
        code = f"__batonRun({json.dumps(source)}, {json.dumps(input_json)})"
        try:
            if memory_bytes != self._memory_bytes:
                racer.set_hard_memory_limit(memory_bytes)
                self._memory_bytes = memory_bytes
            raw = _call(racer, code, max(1, timeout_ms))
        except (JSTimeoutException, JSTerminatedException):
            self._settle()
            return Outcome("timeout")
        except JSOOMException:
            self._settle()
            return Outcome("memory")
        except Exception as exc:
            self._give_up()
            return Outcome("failed", f"script failed: {first_line(str(exc))}")
        if not isinstance(raw, str) or not raw:
            self._give_up()
            return Outcome("failed", "script failed: the engine returned no result")
        tag, body = raw[0], raw[1:]
        if tag == "v":
            return Outcome("value", body)
        if tag == "u":
            return Outcome("undefined")
        return Outcome("error", body or "Error")

    def _settle(self) -> None:
        """After a script was stopped at a bound: collect, put the globals back, or give the context up.

        A script stopped at its bound ends without its ``finally``, so the globals are
        put back by a call of their own. mini-racer may still have a termination
        pending for the isolate (after its memory limit, the collection triggers
        one), which ends the next call: the reset is tried a few times. The context
        is kept when that works: closing one soon after a timeout crashed the process
        in mini-racer 0.14.1.
        """
        racer = self._racer
        if racer is None:
            return
        try:
            racer.low_memory_notification()
            racer.set_hard_memory_limit(0)
            self._memory_bytes = 0
        except Exception:
            self._give_up()
            return
        for _ in range(_SETTLE_ATTEMPTS):
            try:
                _call(racer, "__batonReset()", SETTLE_TIMEOUT_MS)
            except (JSTimeoutException, JSTerminatedException, JSOOMException):
                continue
            except Exception:
                break
            return
        self._give_up()

    def _give_up(self) -> None:
        self.close()
        self.broke = True


def _call(racer: MiniRacer, code: str, timeout_ms: int) -> Any:
    """``racer.eval(code)`` with a timeout, in one hop between threads instead of three.

    ``MiniRacer.eval`` from a thread other than its event loop's goes through that
    loop (two hops, plus V8's thread); this posts the evaluation to V8 directly and
    waits on mini-racer's queue for results of uncancelable tasks, cancelling the
    task (V8 terminates the script) when the time is up. It relies on mini-racer
    0.14.1's internals (the version is pinned) and needs one thread per context,
    which both users of ``V8Context`` guarantee.
    """
    ctx: Any = racer._ctx
    code_handle = ctx._python_to_value_handle(code)
    task = ctx._dll.mr_eval(ctx._ctx, code_handle.raw, _UNCANCELABLE_CALLBACK)
    answers = ctx._non_cancelable_mr_task_results_queue
    try:
        answer = answers.get(timeout=timeout_ms / 1000)
    except queue.Empty:
        ctx._dll.mr_cancel_task(ctx._ctx, task)
        answer = answers.get()  # the stopped task still answers
        with contextlib.suppress(Exception):
            ctx._value_handle_to_python(answer)
        raise JSTimeoutException from None
    return ctx._value_handle_to_python(answer)
