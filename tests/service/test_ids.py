"""Run and task ids: version 7 UUIDs, ordered by the millisecond they were made in."""

from __future__ import annotations

import time
import uuid

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
