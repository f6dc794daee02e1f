"""A small memo of values by the identity of the object they were computed from, bounded in count and weight.

The decider memoises what it derives from definitions and fork tasks (their
branches, their reference names): these objects are never mutated and are shared
between decisions through the stores' caches, so the identity of one names its
value. Holding the key object keeps its id from being reused, so an identity hit
is always the same object. Decisions run on the event loop and in decision
threads at once, so every access holds a lock; each value has a weight (a
dynamic fork's branch count), so a few huge forks cannot keep gigabytes alive.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

_V = TypeVar("_V")


class IdentityMemo(Generic[_V]):
    def __init__(self, *, max_entries: int, max_weight: int, weigh: Callable[[_V], int] = lambda _: 1) -> None:
        self._max_entries = max_entries
        self._max_weight = max_weight
        self._weigh = weigh
        self._weight = 0
        self._entries: OrderedDict[int, tuple[object, _V, int]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: object) -> _V | None:
        with self._lock:
            entry = self._entries.get(id(key))
            if entry is None or entry[0] is not key:
                return None
            self._entries.move_to_end(id(key))
            return entry[1]

    def put(self, key: object, value: _V) -> _V:
        weight = self._weigh(value)
        if weight > self._max_weight:
            return value
        with self._lock:
            old = self._entries.pop(id(key), None)
            if old is not None:
                self._weight -= old[2]
            self._entries[id(key)] = (key, value, weight)
            self._weight += weight
            while len(self._entries) > self._max_entries or self._weight > self._max_weight:
                _, (_, _, dropped) = self._entries.popitem(last=False)
                self._weight -= dropped
        return value
