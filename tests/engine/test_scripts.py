"""JavaScript in V8: Conductor's ``$`` binding, bounds in time and memory, errors as values."""

from __future__ import annotations

import asyncio
import time

import pytest

from baton.engine import scripts
from baton.engine.scripts import evaluate


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("$.a + 1", 3),
        ("(function(){ return $.a > 1; })()", True),
        ("var x = $.a; x * 2", 4),
        ("$.list.map(function (v) { return v * 10; })", [10, 20]),
        ("({total: $.a, nested: {ok: true, none: null}})", {"total": 2, "nested": {"ok": True, "none": None}}),
        ("'s' + $.a", "s2"),
        ("$.a / 4", 0.5),
        ("undefined", None),
        ("$.missing", None),
        ("function f() { return 7; } f()", 7),
    ],
)
def test_value_of_the_last_statement(source: str, expected: object) -> None:
    result = evaluate(source, {"a": 2, "list": [1, 2]})
    assert result.ok
    assert result.value == expected


def test_errors_are_values_with_clear_messages() -> None:
    assert evaluate("foo.bar", {}).error == "ReferenceError: foo is not defined"
    assert evaluate("var x = ;", {}).error == "SyntaxError: Unexpected token ';'"
    assert evaluate("throw new Error('boom')", {}).error == "Error: boom"
    assert evaluate("throw 'plain'", {}).error == "plain"
    assert evaluate("1n", {}).error == "TypeError: Do not know how to serialize a BigInt"


def test_globals_do_not_leak_between_evaluations() -> None:
    assert evaluate("leaked = 5; var local = 1; 1", {}).ok
    assert evaluate("typeof leaked + typeof local", {}).value == "undefinedundefined"
    assert evaluate("JSON = null; eval = null; 1", {}).ok
    assert evaluate("JSON.stringify({a: eval('1 + 1')})", {}).value == '{"a":2}'


def test_timeout_is_bounded_and_the_context_recovers() -> None:
    started = time.monotonic()
    result = evaluate("while (true) {}", {}, timeout_ms=200)
    elapsed = time.monotonic() - started
    assert result.error == "script timed out after 200 ms"
    assert elapsed < 2.0
    assert evaluate("$.a * 3", {"a": 3}).value == 9


def test_memory_bomb_is_stopped_and_the_context_recovers() -> None:
    bomb = "var a = []; while (true) { a.push(new Array(100000).fill(1)); }"
    result = evaluate(bomb, {}, timeout_ms=10_000, memory_bytes=16 * 1024 * 1024)
    assert result.error == "script exceeded memory limit"
    assert evaluate("1 + 1", {}).value == 2


def test_works_from_inside_a_running_event_loop() -> None:
    async def main() -> tuple[object, object, object]:
        scripts.discard_context()  # make the next context while a loop runs on this thread
        first = evaluate("$.a", {"a": 1})
        stuck = evaluate("for (;;) {}", {}, timeout_ms=100)
        after = evaluate("2", {})
        return first.value, stuck.error, after.value

    assert asyncio.run(main()) == (1, "script timed out after 100 ms", 2)


def test_scripts_stopped_at_their_bounds_again_and_again_leave_a_working_context() -> None:
    async def main() -> list[object]:
        scripts.discard_context()  # a context made while a loop runs, as in the server
        seen: list[object] = []
        for round_ in range(5):
            stuck = evaluate(f"leaked{round_} = 1; for (;;) {{}}", {}, timeout_ms=50)
            bomb = evaluate("var a = []; for (;;) { a.push(new Array(100000).fill(1)); }", {}, memory_bytes=16 << 20)
            after = evaluate(f"typeof leaked{round_} + ' ' + $.n", {"n": round_})
            seen.append((stuck.error, bomb.error, after.value))
        return seen

    assert asyncio.run(main()) == [
        ("script timed out after 50 ms", "script exceeded memory limit", f"undefined {round_}") for round_ in range(5)
    ]


def test_non_json_input_and_non_string_source() -> None:
    assert evaluate(42, {}).error == "script must be a string, not int"  # type: ignore[arg-type]
    assert (evaluate("1", {"x": object()}).error or "").startswith("script input is not JSON")
