"""The sandbox's bounds, with real child processes: time, memory, output size, crashes, the parent's death."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator

import pytest

from baton.sandbox import Sandbox

pytestmark = pytest.mark.serial  # times its bounds and the event loop's stalls

ENDLESS_JS = "while (true) {}"
ENDLESS_JQ = "last(range(1e11))"
JS_HEAP_BOMB = "var a = []; while (true) { a.push(new Array(100000).fill(1)); }"


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    box = Sandbox(processes=2, script_timeout_ms=300, jq_timeout_ms=300)
    await box.start()
    try:
        yield box
    finally:
        await box.close()


@pytest.fixture
async def roomy() -> AsyncIterator[Sandbox]:
    """Time bounds long enough that memory bounds come first."""
    box = Sandbox(processes=1, script_timeout_ms=5000, jq_timeout_ms=5000)
    await box.start()
    try:
        yield box
    finally:
        await box.close()


async def _spares_ready(box: Sandbox, expected: int = 6) -> None:
    for _ in range(200):
        if len(box.pids()) >= expected:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {len(box.pids())} children running")


async def test_a_script_that_never_yields_is_stopped_at_its_time_bound(sandbox: Sandbox) -> None:
    started = time.monotonic()
    result = await sandbox.script(ENDLESS_JS, b"{}")
    elapsed = time.monotonic() - started
    assert (result.error, result.limit) == ("exceeded 300 ms", True)
    assert 0.25 < elapsed < 2.0
    assert (await sandbox.script("$.a * 3", b'{"a": 3}')).value == 9


async def test_a_jq_query_that_never_yields_is_killed_at_its_time_bound(sandbox: Sandbox) -> None:
    await _spares_ready(sandbox)
    before = set(sandbox.pids())
    started = time.monotonic()
    result = await sandbox.jq(ENDLESS_JQ, b"{}")
    elapsed = time.monotonic() - started
    assert (result.error, result.limit) == ("exceeded 300 ms", True)
    assert 0.25 < elapsed < 2.0
    assert sandbox.replaced == 1
    after = await sandbox.jq(".a + 1", b'{"a": 1}')
    assert (after.result, after.result_list) == (2, [2])
    await _spares_ready(sandbox)
    assert len(before - set(sandbox.pids())) == 1  # the killed child, and only it, is gone


async def test_the_spare_takes_the_place_of_a_killed_child_and_a_new_spare_starts() -> None:
    box = Sandbox(processes=1, jq_timeout_ms=200)
    await box.start()
    try:
        await _spares_ready(box, 4)
        spare = box._jq.spare_pid()
        (first,) = box._jq.idle_pids()
        assert (await box.jq(ENDLESS_JQ, b"{}")).error == "exceeded 200 ms"
        assert (await box.jq(". + 1", b"1")).result == 2
        assert box._jq.idle_pids() == [spare]  # the spare answered, no caller waited for a start
        await _spares_ready(box, 4)
        assert box._jq.spare_pid() not in (None, first, spare)
    finally:
        await box.close()


async def test_catastrophic_regular_expressions_are_stopped_too(sandbox: Sandbox) -> None:
    result = await sandbox.script("/(a+)+b/.test('a'.repeat(40))", b"{}")
    assert (result.error, result.limit) == ("exceeded 300 ms", True)
    assert (await sandbox.script("/(a+)+b/.test('aab')", b"{}")).value is True


async def test_children_see_none_of_the_servers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_DATABASE_URL", "postgresql://user:secret@db/baton")
    box = Sandbox(processes=1)
    await box.start()
    try:
        names = (await box.jq("$ENV | keys", b"{}")).result
        assert isinstance(names, list)
        assert "BATON_DATABASE_URL" not in names
        assert (await box.jq("env.BATON_DATABASE_URL", b"{}")).result is None
    finally:
        await box.close()


async def test_a_child_killed_mid_request_gives_the_bound_error_and_is_replaced(sandbox: Sandbox) -> None:
    await _spares_ready(sandbox)
    slow = asyncio.ensure_future(sandbox.jq("[range(1e9)] | length", b"{}"))
    await asyncio.sleep(0.1)
    busy = sandbox._jq._busy  # the child evaluating the query
    assert len(busy) == 1
    os.kill(next(iter(busy)).process.pid, signal.SIGKILL)
    result = await slow
    assert result.limit
    assert result.error == "exceeded its memory limit of 256 MiB"
    assert (await sandbox.jq(".", b"[1]")).result == [1]


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV])
async def test_a_child_that_died_while_idle_is_replaced_before_it_is_used(sandbox: Sandbox, sig: int) -> None:
    await _spares_ready(sandbox)
    for pid in sandbox.pids():
        os.kill(pid, sig)
    await asyncio.sleep(0.3)  # the deaths are noticed
    assert (await sandbox.script("1 + 1", b"{}")).value == 2
    assert (await sandbox.jq(". + 1", b"1")).result == 2
    assert sandbox.replaced >= 2


async def test_children_ignore_sigint(sandbox: Sandbox) -> None:
    await _spares_ready(sandbox)
    pids = sandbox.pids()
    for pid in pids:
        os.kill(pid, signal.SIGINT)
    await asyncio.sleep(0.2)
    assert (await sandbox.script("'still here'", b"{}")).value == "still here"
    assert sorted(sandbox.pids()) == sorted(pids)
    assert sandbox.replaced == 0


def test_children_die_with_their_parent() -> None:
    parent_code = textwrap.dedent(
        """
        import asyncio, os, sys
        from baton.sandbox import Sandbox

        async def main():
            box = Sandbox(processes=1)
            await box.start()
            for _ in range(200):
                if len(box.pids()) == 4:
                    break
                await asyncio.sleep(0.05)
            print(" ".join(map(str, box.pids())), flush=True)
            await asyncio.sleep(60)

        asyncio.run(main())
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", parent_code], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        pids = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(pids) == 4
        assert all(_alive(pid) for pid in pids)
    finally:
        parent.kill()
        parent.wait()
        if parent.stdout is not None:
            parent.stdout.close()
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


async def test_a_script_that_fills_its_heap_gets_the_memory_error(roomy: Sandbox) -> None:
    result = await roomy.script(JS_HEAP_BOMB, b"{}")
    assert (result.error, result.limit) == ("exceeded its memory limit of 32 MiB", True)
    assert (await roomy.script("[1, 2].length", b"{}")).value == 2


@pytest.mark.parametrize(
    "source",
    [
        "new Uint8Array(1e9).fill(1).length",  # array buffers live outside V8's heap
        "var b = []; for (;;) b.push(new Uint8Array(1e7).fill(1));",
        "'x'.repeat(2 ** 28).split('').length",  # V8 dies of it: the child is replaced
    ],
)
async def test_memory_outside_the_heap_and_fatal_exhaustion_are_memory_errors(roomy: Sandbox, source: str) -> None:
    result = await roomy.script(source, b"{}")
    assert (result.error, result.limit) == ("exceeded its memory limit of 32 MiB", True)
    assert (await roomy.script("'ok'", b"{}")).value == "ok"


@pytest.mark.parametrize("query", ["[range(1e9)]", "[limit(1e8; repeat(1))]", 'reduce range(40) as $i ("x"; . + .)'])
async def test_jq_memory_bombs_end_with_the_memory_error_and_the_parent_does_not_grow(query: str) -> None:
    # A jq child builds about 1.5 million array elements a second, so at 256 MiB the
    # time bound comes first; a smaller address space shows the memory bound itself.
    box = Sandbox(processes=1, jq_timeout_ms=20_000, jq_memory_bytes=64 << 20)
    await box.start()
    try:
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.monotonic()
        result = await box.jq(query, b"{}")
        elapsed = time.monotonic() - started
        assert (result.error, result.limit) == ("exceeded its memory limit of 64 MiB", True)
        assert elapsed < 10
        assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 20 * 1024  # KiB
        assert (await box.jq(".[0]", b"[7]")).result == 7
    finally:
        await box.close()


async def test_jq_memory_bombs_at_the_default_bounds_end_within_the_time_bound() -> None:
    box = Sandbox(processes=1)
    await box.start()
    try:
        for query in ("[range(1e9)]", "[limit(1e8; repeat(1))]"):
            started = time.monotonic()
            result = await box.jq(query, b"{}")
            assert (result.error, result.limit) == ("exceeded 1000 ms", True)
            assert time.monotonic() - started < 3
    finally:
        await box.close()


async def test_jq_output_is_bounded_in_bytes_and_in_number_of_results(roomy: Sandbox) -> None:
    big = await roomy.jq("[range(1e6)]", b"{}")  # about 6.9 MB of JSON
    assert (big.error, big.limit) == ("output exceeded 4194304 bytes", True)
    many = await roomy.jq("range(20000)", b"{}")
    assert (many.error, many.limit) == ("jq query produced more than 10000 results", False)
    fits = await roomy.jq("[range(1e5)] | length", b"{}")
    assert fits.result == 100_000


@pytest.mark.slow
async def test_endless_scripts_and_jq_bombs_at_once_never_stall_the_event_loop() -> None:
    box = Sandbox(processes=2, script_timeout_ms=300, jq_timeout_ms=300)  # 22 attacks on two children: 3 s
    await box.start()
    try:
        worst = 0.0
        done = False

        async def probe() -> None:
            nonlocal worst
            while not done:
                before = time.monotonic()
                await asyncio.sleep(0.01)
                worst = max(worst, time.monotonic() - before - 0.01)

        prober = asyncio.ensure_future(probe())
        attacks = [box.script(ENDLESS_JS, b"{}") for _ in range(16)]
        attacks += [box.jq(query, b"{}") for query in (ENDLESS_JQ, "[range(1e9)]", "[limit(1e8; repeat(1))]") * 2]
        results = await asyncio.gather(*attacks)
        done = True
        await prober
        assert all(result.limit and result.error == "exceeded 300 ms" for result in results)
        assert worst < 0.1, f"the event loop stalled {worst * 1000:.0f} ms"
        assert (await box.script("$.n + 1", b'{"n": 1}')).value == 2
        assert (await box.jq(".n + 1", b'{"n": 1}')).result == 2
    finally:
        await box.close()
