"""In-process vs sandboxed evaluation of a tiny script and a tiny jq query: p50 and p99 per call.

    .venv/bin/python bench/sandbox.py [--calls 5000] [--processes 2] [--concurrency 1]
    .venv/bin/python bench/sandbox.py --attack


In process: ``engine.scripts.evaluate`` / ``engine.jq_transform.transform`` on this
thread (what the engine did before the sandbox). Sandboxed: ``Sandbox.script`` /
``Sandbox.jq`` awaited from the event loop, including the round trip to a child
(``--concurrency`` callers at once; with more than one the figures include queueing).
Prints one JSON line per case on stdout. ``--attack`` instead starts 16 endless scripts
and 6 jq bombs at once at the default bounds and prints the event loop's worst lag (an
``asyncio.sleep(0.01)`` probe), how long the attack took, and how much this process's
peak RSS grew.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
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


async def attack(processes: int) -> None:
    box = Sandbox(processes=processes)
    await box.start()
    try:
        peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        worst = 0.0
        done = False

        async def probe() -> None:
            nonlocal worst
            while not done:
                before = time.perf_counter()
                await asyncio.sleep(0.01)
                worst = max(worst, time.perf_counter() - before - 0.01)

        prober = asyncio.ensure_future(probe())
        started = time.perf_counter()
        attacks = [box.script("while (true) {}", b"{}") for _ in range(16)]
        bombs = ("last(range(1e11))", "[range(1e9)]", "[limit(1e8; repeat(1))]") * 2
        attacks += [box.jq(query, b"{}") for query in bombs]
        results = await asyncio.gather(*attacks)
        seconds = time.perf_counter() - started
        done = True
        await prober
        errors = sorted({result.error or "" for result in results})
        print(
            json.dumps(
                {
                    "case": "16 endless scripts + 6 jq bombs",
                    "processes": processes,
                    "seconds": round(seconds, 2),
                    "worst_loop_lag_ms": round(worst * 1000, 1),
                    "errors": errors,
                    "peak_rss_growth_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before,
                    "children_replaced": box.replaced,
                }
            )
        )
    finally:
        await box.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--attack", action="store_true", help="measure the event loop's lag under attack instead")
    args = parser.parse_args()
    print(json.dumps({"nproc": os.cpu_count(), "loadavg": os.getloadavg()}), file=sys.stderr)
    if args.attack:
        await attack(args.processes)
        return

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
