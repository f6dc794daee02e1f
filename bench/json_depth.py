"""What the request-JSON guards cost: ``nested_deeper_than`` and ``nul_path`` next to msgspec's decode of the same body.

    .venv/bin/python bench/json_depth.py

Prints one line per body shape: its size, then milliseconds per call of each (best of 5 rounds of 20).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import msgspec

from baton.model.codec import nested_deeper_than, nul_path


def best_ms(call: Callable[[], Any], rounds: int = 5, calls: int = 20) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        for _ in range(calls):
            call()
        times.append((time.perf_counter() - began) / calls)
    return min(times) * 1000


def chains(count: int, depth: int) -> bytes:
    one = b"[" * depth + b"]" * depth
    return b"[" + b",".join([one] * count) + b"]"


def shapes() -> dict[str, bytes]:
    step = {"name": "s", "taskReferenceName": "s", "type": "SIMPLE", "inputParameters": {"a": "${workflow.input.a}"}}
    return {
        "small start input": json.dumps({"orderId": "o-1", "amount": 12.5, "items": [{"sku": "a", "n": 2}]}).encode(),
        "workflow def, 6000 steps": json.dumps({"name": "w", "tasks": [step] * 6000}).encode(),
        "60k small objects": json.dumps([{"k": i, "v": [i]} for i in range(60_000)]).encode(),
        "one 1 MB string": json.dumps({"s": "x" * 1_000_000}).encode(),
        "brackets in strings": json.dumps({"s": ["[[[{{{" * 10] * 10_000}).encode(),
        "worst: 4000 chains 127 deep": chains(4000, 126),
        "too deep: 1000 levels": b"[" * 1000 + b"]" * 1000,
    }


def main() -> None:
    for name, raw in shapes().items():
        try:
            decode_ms = f"{best_ms(lambda raw=raw: msgspec.json.decode(raw)):8.2f}"
        except RecursionError:
            decode_ms = " refused"
        depth_ms = best_ms(lambda raw=raw: nested_deeper_than(raw, 128))
        nul_ms = best_ms(lambda raw=raw: nul_path(raw))
        print(
            f"{name:30} {len(raw):>9} bytes  depth check {depth_ms:7.2f} ms  NUL check {nul_ms:6.3f} ms"
            f"  msgspec decode {decode_ms} ms"
        )


if __name__ == "__main__":
    main()
