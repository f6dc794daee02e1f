"""Replay committed decision histories: the same inputs must still give the same decisions.

A failure here means the decider's behaviour changed. If that was intended,
re-record with ``python tests/engine/record_histories.py`` and review the diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.decider_support import replay

HISTORIES = sorted((Path(__file__).parent / "histories").glob("*.json"))


def test_histories_are_committed() -> None:
    assert len(HISTORIES) >= 3


@pytest.mark.parametrize("path", HISTORIES, ids=[p.stem for p in HISTORIES])
def test_replay_gives_the_recorded_decisions(path: Path) -> None:
    pairs = replay(path.read_bytes())
    assert pairs
    for index, (recorded, now) in enumerate(pairs):
        assert now == recorded, f"decision {index} of {path.name} differs"
