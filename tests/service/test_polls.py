"""Workers' last polls are noted in memory and written in batches, at most one write per interval; on both
stores."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from baton.model import PollData
from baton.service.context import wall_clock_ms
from baton.service.polls import PollRecorder
from baton.store import Store, open_store

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = open_store(store_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def _stored(store: Store) -> list[tuple[str, str | None]]:
    return [(p.queue_name, p.worker_id) for p in await store.poll_data()]


async def _written(store: Store, expected: tuple[str, str | None], within: float) -> float:
    """How long until ``expected`` is stored (fails after ``within`` seconds)."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    while expected not in await _stored(store):
        assert loop.time() - began < within, await _stored(store)
        await asyncio.sleep(0.01)
    return loop.time() - began


async def test_polls_are_written_in_the_background_once_per_interval(store: Store) -> None:
    recorder = PollRecorder(store, wall_clock_ms, interval_ms=1500)
    recorder.seen("sort", None, "w1")
    recorder.seen("sort", None, "w1")
    recorder.seen("pack", "eu", None)
    # The first poll after a quiet spell is written at once, its batch with it.
    await _written(store, ("sort", "w1"), within=1.0)
    assert await _stored(store) == [("pack", None), ("sort", "w1")]

    recorder.seen("sort", None, "w2")
    # The next write waits for the interval.
    assert await _written(store, ("sort", "w2"), within=5.0) > 0.5
    await recorder.close()


async def test_a_read_writes_this_servers_polls_first_and_close_writes_the_rest(store: Store) -> None:
    recorder = PollRecorder(store, wall_clock_ms, interval_ms=60_000)
    await recorder.flush()  # the next write is a minute away
    recorder.seen("sort", None, "w1")
    assert [(p.queue_name, p.worker_id) for p in await recorder.poll_data("sort")] == [("sort", "w1")]

    recorder.seen("late", None, "w9")
    await recorder.close()
    assert await store.poll_data("late") == [
        PollData(queue_name="late", worker_id="w9", last_poll_time=pytest.approx(wall_clock_ms(), abs=5000))
    ]


async def test_a_read_waits_for_the_write_in_flight(store: Store) -> None:
    for attempt in range(20):
        recorder = PollRecorder(store, wall_clock_ms)
        recorder.seen(f"raced_{attempt}", None, "w1")
        await asyncio.sleep(0)  # the background write has taken the poll and is in flight
        assert [p.worker_id for p in await recorder.poll_data(f"raced_{attempt}")] == ["w1"]
        await recorder.close()


async def test_a_failed_write_is_dropped_and_the_next_poll_starts_again(store: Store) -> None:
    recorder = PollRecorder(store, wall_clock_ms, interval_ms=10)
    await store.close()
    recorder.seen("sort", None, "w1")
    await asyncio.sleep(0.1)  # written, in vain, to a closed store
    await store.open()
    recorder.seen("sort", None, "w2")
    await _written(store, ("sort", "w2"), within=5.0)
    assert await _stored(store) == [("sort", "w2")]
    await recorder.close()
