"""Isolation between evaluations, and the sandbox's answers under concurrency, cancellation and threads."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncIterator

import pytest

from baton.engine import scripts
from baton.sandbox import Sandbox

TAMPER = "Array.prototype.includes = function(){return true}; Object.prototype.toJSON = function(){return 'pwned'}; 1"
SIXTEEN_MB = "var a = new Array(2 * 1024 * 1024).fill(1.5); a.length"  # 2 Mi doubles


@pytest.fixture
async def one_child() -> AsyncIterator[Sandbox]:
    """One child per kind, so consecutive evaluations share it."""
    box = Sandbox(processes=1, script_timeout_ms=5000)
    await box.start()
    try:
        yield box
    finally:
        await box.close()


async def test_a_tampering_script_changes_nothing_for_the_next_one(one_child: Sandbox) -> None:
    assert (await one_child.script(TAMPER, b"{}")).value == 1
    assert (await one_child.script("({amount: $.x * 2})", b'{"x": 21}')).value == {"amount": 42}
    assert (await one_child.script("[1, 2].includes(7)", b"{}")).value is False


@pytest.mark.parametrize(
    "tamper",
    [
        "Object.getPrototypeOf(function* () {}).prototype.next = function () { return {done: true}; }; 1",
        "Object.getPrototypeOf([][Symbol.iterator]()).next = function () { return {done: true}; }; 1",
        "JSON.stringify = function () { return '\"pwned\"'; }; 1",
        "Object.defineProperty(Array.prototype, 'x', {value: 1}); 1",
        "Math.max = Math.min; 1",
        "leaked = 'yes'; globalThis.other = 1; 1",
        "Promise.resolve().then(function () { globalThis.late = 'yes'; }); 1",
        "arguments.callee.seen = 1; 1",
    ],
)
async def test_no_builtin_global_or_prototype_change_survives(one_child: Sandbox, tamper: str) -> None:
    await one_child.script(tamper, b"{}")
    check = (
        "[typeof leaked, typeof other, typeof late, [...[1, 2]].length, JSON.stringify({a: 1}),"
        " [].x, Math.max(1, 2), arguments.callee.seen, [...(function* () { yield 1; })()].length]"
    )
    result = await one_child.script(check, b"{}")
    assert result.value == ["undefined", "undefined", "undefined", 2, '{"a":1}', None, 2, None, 1]


async def test_ordinary_objects_can_still_override_inherited_names(one_child: Sandbox) -> None:
    source = (
        "var o = {}; o.toString = function () { return 'mine'; };"
        " var e = new Error(); e.message = 'm'; e.name = 'Custom';"
        " [String(o), e.toString(), Object.prototype.toString.call([])]"
    )
    assert (await one_child.script(source, b"{}")).value == ["mine", "Custom: m", "[object Array]"]


async def test_scripts_allocating_16_mb_alternating_with_small_ones_all_succeed(one_child: Sandbox) -> None:
    for round_ in range(40):
        big = await one_child.script(SIXTEEN_MB, b"{}")
        small = await one_child.script("({amount: $.x * 2})", f'{{"x": {round_}}}'.encode())
        assert (big.error, big.value) == (None, 2 * 1024 * 1024), round_
        assert (small.error, small.value) == (None, {"amount": 2 * round_}), round_


async def test_a_script_after_one_that_hit_the_memory_bound_has_the_whole_budget(one_child: Sandbox) -> None:
    bomb = await one_child.script("var a = []; for (;;) a.push(new Array(100000).fill(1));", b"{}")
    assert bomb.limit
    assert (await one_child.script(SIXTEEN_MB, b"{}")).value == 2 * 1024 * 1024


async def test_concurrent_callers_each_get_their_own_answer() -> None:
    box = Sandbox(processes=2)
    await box.start()
    try:
        scripts_ = [box.script("$.n * 2", f'{{"n": {n}}}'.encode()) for n in range(200)]
        queries = [box.jq(".n + 1", f'{{"n": {n}}}'.encode()) for n in range(200)]
        results = await asyncio.gather(*scripts_, *queries)
        assert [result.value for result in results[:200]] == [n * 2 for n in range(200)]
        assert [result.result for result in results[200:]] == [n + 1 for n in range(200)]
    finally:
        await box.close()


async def test_a_cancelled_caller_leaves_no_answer_for_the_next_one(one_child: Sandbox) -> None:
    slow = "var t = Date.now(); while (Date.now() - t < 300) {} 'slow'"
    caller = asyncio.ensure_future(one_child.script(slow, b"{}"))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    assert (await one_child.script("'mine'", b"{}")).value == "mine"
    assert one_child.replaced == 0  # the child finished the cancelled request and was reused


async def test_callers_on_other_threads_through_the_loop(one_child: Sandbox) -> None:
    loop = asyncio.get_running_loop()
    answers: dict[int, object] = {}

    def work(n: int) -> None:
        future = asyncio.run_coroutine_threadsafe(one_child.script("$.n + 100", f'{{"n": {n}}}'.encode()), loop)
        answers[n] = future.result(timeout=30).value

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    await asyncio.to_thread(lambda: [thread.join() for thread in threads])
    assert answers == {n: n + 100 for n in range(8)}


async def test_bad_input_comes_back_as_errors_never_raised(one_child: Sandbox) -> None:
    assert (await one_child.script(42, b"{}")).error == "script must be a string, not int"  # type: ignore[arg-type]
    assert (await one_child.script("$", b"{not json")).error == (
        "SyntaxError: Expected property name or '}' in JSON at position 1 (line 1 column 2)"
    )
    assert (await one_child.script("throw new Error('boom')", b"{}")).error == "Error: boom"
    assert (await one_child.script("undefined", b"{}")).value is None
    assert (await one_child.jq("", b"{}")).error == "'queryExpression' must be a non-empty string"
    assert (await one_child.jq(". +", b"{}")).error.startswith("invalid jq query: ")  # type: ignore[union-attr]
    assert (await one_child.jq(".", b"{not json")).error.startswith("jq error: ")  # type: ignore[union-attr]
    assert (await one_child.jq(".[] | empty", b"[1]")).result_list == []
    lone_surrogate = await one_child.script("'\ud800'", b"{}")
    assert lone_surrogate.error == "not valid Unicode text: surrogates not allowed at 1"
    assert (await one_child.jq('"\ud800"', b"{}")).error == "not valid Unicode text: surrogates not allowed at 1"
    assert one_child.replaced == 0


async def test_close_kills_the_children_and_later_calls_answer_with_an_error() -> None:
    box = Sandbox(processes=1)
    await box.start()
    assert (await box.script("1", b"{}")).value == 1
    pids = box.pids()
    await box.close()
    assert box.pids() == []
    for pid in pids:
        with pytest.raises(ProcessLookupError):  # killed and reaped
            os.kill(pid, 0)
    assert (await box.script("1", b"{}")).error == "the sandbox is closed"
    assert (await box.jq(".", b"{}")).error == "the sandbox is closed"


def test_the_in_process_evaluator_is_locked_down_too() -> None:
    assert scripts.evaluate(TAMPER, {}).value == 1
    assert scripts.evaluate("({amount: $.x * 2})", {"x": 2}).value == {"amount": 4}
    assert scripts.evaluate("[1, 2].includes(7)", {}).value is False


async def test_close_answers_callers_still_waiting_for_a_child() -> None:
    box = Sandbox(processes=1, script_timeout_ms=5000)
    await box.start()
    slow = "var t = Date.now(); while (Date.now() - t < 2000) {} 'slow'"
    callers = [asyncio.ensure_future(box.script(slow, b"{}")) for _ in range(3)]
    await asyncio.sleep(0.2)
    await box.close()
    results = await asyncio.wait_for(asyncio.gather(*callers), 5)
    assert [result.error for result in results] == ["the sandbox is closed"] * 3
    assert box.pids() == []
