"""Run and task ids: version 7 UUIDs, each one a process makes greater than the one before it."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from baton.service.context import new_uuid


def test_ids_are_version_7_uuids_carrying_their_creation_millisecond() -> None:
    before = time.time_ns() // 1_000_000
    ids = [new_uuid() for _ in range(10_000)]
    after = time.time_ns() // 1_000_000

    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant, str(parsed)) == (7, uuid.RFC_4122, text)
        assert before <= parsed.int >> 80 <= after


def test_ids_made_in_later_milliseconds_sort_after_earlier_ones() -> None:
    first = new_uuid()
    now = time.time_ns() // 1_000_000
    while time.time_ns() // 1_000_000 == now:
        time.sleep(0.0002)
    second = new_uuid()

    assert first < second


def test_each_id_sorts_after_the_one_made_before_it_even_in_the_same_millisecond() -> None:
    ids = [new_uuid() for _ in range(10_000)]

    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    milliseconds = [uuid.UUID(text).int >> 80 for text in ids]
    assert len(set(milliseconds)) < len(ids), "no two ids were made in the same millisecond"


def test_ids_made_on_many_threads_at_once_are_all_different_and_well_formed() -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        batches = list(pool.map(lambda _: [new_uuid() for _ in range(2_000)], range(8)))

    ids = [text for batch in batches for text in batch]
    assert len(set(ids)) == len(ids)
    for batch in batches:
        assert batch == sorted(batch)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
