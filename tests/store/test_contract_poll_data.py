"""The store contract (``baton/store/roles.py``) for workers' last polls, run against every backend."""

from __future__ import annotations

import pytest

from baton.model import PollData
from baton.store import Store

pytestmark = pytest.mark.timeout(60)


async def test_polls_are_kept_per_type_domain_and_worker(store: Store) -> None:
    assert await store.poll_data("sort") == []
    assert await store.poll_data() == []
    await store.record_polls([])

    await store.record_polls(
        [
            PollData(queue_name="sort", worker_id="w1", last_poll_time=10),
            PollData(queue_name="sort", domain="eu", worker_id="w1", last_poll_time=11),
            PollData(queue_name="sort", worker_id="w2", last_poll_time=12),
            PollData(queue_name="pack", last_poll_time=13),
        ]
    )
    # A later time replaces an earlier one; an earlier one (another server's late batch) never does.
    await store.record_polls(
        [
            PollData(queue_name="sort", worker_id="w1", last_poll_time=20),
            PollData(queue_name="sort", worker_id="w2", last_poll_time=5),
        ]
    )

    assert await store.poll_data("sort") == [
        PollData(queue_name="sort", domain=None, worker_id="w1", last_poll_time=20),
        PollData(queue_name="sort", domain=None, worker_id="w2", last_poll_time=12),
        PollData(queue_name="sort", domain="eu", worker_id="w1", last_poll_time=11),
    ]
    assert await store.poll_data("missing") == []
    assert [(p.queue_name, p.worker_id, p.last_poll_time) for p in await store.poll_data()] == [
        ("pack", None, 13),
        ("sort", "w1", 20),
        ("sort", "w2", 12),
        ("sort", "w1", 11),
    ]
