"""In-process vs sandboxed evaluation of a tiny script and a tiny jq query: p50 and p99 per call.

    .venv/bin/python bench/sandbox.py [--calls 5000] [--processes 2] [--concurrency 1]

In process: ``engine.scripts.evaluate`` / ``engine.jq_transform.transform`` on this
thread (what the engine did before the sandbox). Sandboxed: ``Sandbox.script`` /
``Sandbox.jq`` awaited from the event loop, including the round trip to a child
(``--concurrency`` callers at once; with more than one the figures include queueing).
Prints one JSON line per case on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable

from baton.engine import jq_transform, scripts
from baton.sandbox import Sandbox

SCRIPT = "'Hello, ' + $.name + '!'"
QUERY = '.name | {greeting: ("Hello, " + . + "!")}'
INPUT = {"name": "Ada"}
INPUT_JSON = json.dumps(INPUT).encode()


def _report(case: str, seconds: list[float], **extra: object) -> None:
    seconds.sort()
    n = len(seconds)
    figures = {"p50_ms": seconds[n // 2] * 1000, "p99_ms": seconds[min(n - 1, (n * 99) // 100)] * 1000}
    print(json.dumps({"case": case, "calls": n, **{k: round(v, 4) for k, v in figures.items()}, **extra}))


def _in_process(case: str, call: Callable[[], object], calls: int) -> None:
    for _ in range(min(200, calls)):
        call()
    seconds = []
    for _ in range(calls):
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
    _report(case, seconds)


async def _sandboxed(case: str, call: Callable[[], Awaitable[object]], calls: int, concurrency: int) -> None:
    for _ in range(min(200, calls)):
        await call()
    seconds: list[float] = []

    async def caller(count: int) -> None:
        for _ in range(count):
            started = time.perf_counter()
            await call()
            seconds.append(time.perf_counter() - started)

    wall = time.perf_counter()
    await asyncio.gather(*(caller(calls // concurrency) for _ in range(concurrency)))
    wall = time.perf_counter() - wall
    _report(case, seconds, concurrency=concurrency, calls_per_s=round(len(seconds) / wall))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1)
    args = parser.parse_args()
    print(json.dumps({"nproc": os.cpu_count(), "loadavg": os.getloadavg()}), file=sys.stderr)

    assert scripts.evaluate(SCRIPT, INPUT).value == "Hello, Ada!"
    _in_process("script in process", lambda: scripts.evaluate(SCRIPT, INPUT), args.calls)
    _in_process("jq in process", lambda: jq_transform.transform(QUERY, INPUT), args.calls)

    box = Sandbox(processes=args.processes)
    await box.start()
    try:
        assert (await box.script(SCRIPT, INPUT_JSON)).value == "Hello, Ada!"
        assert (await box.jq(QUERY, INPUT_JSON)).result == {"greeting": "Hello, Ada!"}
        await _sandboxed("script in sandbox", lambda: box.script(SCRIPT, INPUT_JSON), args.calls, args.concurrency)
        await _sandboxed("jq in sandbox", lambda: box.jq(QUERY, INPUT_JSON), args.calls, args.concurrency)
    finally:
        await box.close()


if __name__ == "__main__":
    asyncio.run(main())
