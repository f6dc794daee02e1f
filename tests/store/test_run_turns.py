"""RunTurns: one process's decisions on a run go one at a time, and a run leaves no lock behind."""

from __future__ import annotations

import asyncio

import pytest

from baton.store.common.run_cache import RunTurns

pytestmark = pytest.mark.timeout(10)


async def test_decisions_on_one_run_take_turns_and_other_runs_do_not_wait() -> None:
    turns = RunTurns()
    order: list[str] = []
    first_inside = asyncio.Event()
    release_first = asyncio.Event()

    async def first() -> None:
        async with turns.turn("run-a"):
            order.append("first in")
            first_inside.set()
            await release_first.wait()
            order.append("first out")

    async def second() -> None:
        async with turns.turn("run-a"):
            order.append("second in")

    async def other_run() -> None:
        async with turns.turn("run-b"):
            order.append("other run in")

    holder = asyncio.create_task(first())
    await first_inside.wait()
    waiter = asyncio.create_task(second())
    await other_run()  # another run's turn does not wait for run-a's
    await asyncio.sleep(0.01)
    assert order == ["first in", "other run in"]
    release_first.set()
    await asyncio.gather(holder, waiter)
    assert order == ["first in", "other run in", "first out", "second in"]
    assert turns._turns == {}


async def test_a_waiter_cancelled_before_its_turn_leaves_nothing_behind() -> None:
    turns = RunTurns()
    inside = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with turns.turn("run-a"):
            inside.set()
            await release.wait()

    async def waiter() -> None:
        async with turns.turn("run-a"):
            pytest.fail("a cancelled waiter got its turn")

    held = asyncio.create_task(holder())
    await inside.wait()
    waiting = asyncio.create_task(waiter())
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    release.set()
    await held
    assert turns._turns == {}
    async with turns.turn("run-a"):  # the run's turn is free again
        pass
    assert turns._turns == {}
