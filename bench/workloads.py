"""The workloads W1-W6 (see bench/README.md): each returns one figure line for a running server."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from driving import (
    JSON_HEADERS,
    WorkerPool,
    _decode,
    _encode,
    confirm_completed,
    latency_figures,
    new_client,
    register,
    sequence_workflow,
    verify_all,
    wait_for,
)
from harness import BenchError, CpuMeter
from rawhttp import HttpClient


@dataclass
class Options:
    runs: int = 2000
    starters: int = 8
    workers_per_type: int = 4
    batch: int = 10
    executes: int = 300
    warmup: int = 30
    steps: int = 500
    timeout: float = 600.0
    verify_all: bool = True


async def workload_w1(base_url: str, store: str, opts: Options, meter: CpuMeter) -> dict[str, Any]:
    """``runs`` runs of a 3-step SIMPLE workflow, started async by concurrent starters, completed by workers."""
    task_types = ["bench_a", "bench_b", "bench_c"]
    workers = {task_type: opts.workers_per_type for task_type in task_types}
    return await _throughput(base_url, store, opts, meter, "W1", "bench_w1", task_types, workers, opts.starters)


async def workload_w5(base_url: str, store: str, opts: Options, meter: CpuMeter) -> dict[str, Any]:
    """W1 where every step has one task type: all the workers poll one queue, and more starters."""
    task_type = "bench_w5_task"
    workers = {task_type: 3 * opts.workers_per_type}
    starters = 2 * opts.starters
    return await _throughput(base_url, store, opts, meter, "W5", "bench_w5", [task_type] * 3, workers, starters)


async def _throughput(
    base_url: str,
    store: str,
    opts: Options,
    meter: CpuMeter,
    workload: str,
    name: str,
    task_types: list[str],
    workers: dict[str, int],
    starters: int,
) -> dict[str, Any]:
    """``opts.runs`` runs of a sequence of ``task_types``, started by ``starters`` coroutines, completed by workers."""
    runs = opts.runs
    steps = runs * len(task_types)
    async with new_client(base_url) as client:
        await register(client, sequence_workflow(name, task_types))
        done = asyncio.Event()
        finished_at: list[float] = []

        def on_completed(task_type: str, task: dict[str, Any]) -> None:
            if not done.is_set() and sum(pool.completed.values()) >= steps:
                finished_at.append(time.perf_counter())
                done.set()

        pool = WorkerPool(client, batch=opts.batch, poll_timeout_ms=1000, on_completed=on_completed)
        for task_type, coroutines in workers.items():
            pool.start(task_type, coroutines)
        await asyncio.sleep(0.3)  # the workers are in their long polls before the clock starts

        ids: list[str] = []
        next_index = 0
        start_path = f"/api/workflow/{name}"

        async def starter() -> None:
            nonlocal next_index
            while next_index < runs:
                index = next_index
                next_index += 1
                response = await client.post(start_path, content=_encode({"n": index}), headers=JSON_HEADERS)
                if response.status_code != 200:
                    raise BenchError(
                        f"POST {start_path}: expected 200 with the run id, got {response.status_code}: "
                        f"{response.text[:500]}"
                    )
                ids.append(response.text)

        meter.start()
        began = time.perf_counter()
        starting = [asyncio.create_task(starter(), name=f"starter-{i}") for i in range(starters)]
        try:
            await wait_for(done, [*pool.tasks, *starting], opts.timeout, f"{runs} runs to complete")
            await asyncio.gather(*starting)
            ended = finished_at[0]
            # The counter says every final step was acknowledged; a few reads confirm the runs ended.
            sample = ids[-5:] + random.sample(ids, min(15, len(ids)))
            if await confirm_completed(client, sample, timeout=30) > 1:
                ended = time.perf_counter()  # not all ended at the last acknowledgement: count until they did
            confirmed_at = time.perf_counter()
            meter.stop()
        finally:
            for task in starting:
                task.cancel()
            await pool.stop()
        seconds = ended - began
        result: dict[str, Any] = {
            "workload": workload,
            "store": store,
            "shape": f"{len(task_types)}-step SIMPLE sequence, {len(workers)} task type(s)",
            "runs": runs,
            "steps": steps,
            "seconds": round(seconds, 3),
            "runs_per_s": round(runs / seconds, 1),
            "steps_per_s": round(steps / seconds, 1),
            "confirm_ms": round((confirmed_at - ended) * 1000, 1),
            "starters": starters,
            "worker_coroutines": sum(workers.values()),
            "poll_batch": opts.batch,
        }
        if opts.verify_all:
            result["verified_completed"] = await verify_all(client, ids)
        return result


async def timed_executes(
    client: HttpClient,
    path: str,
    opts: Options,
    meter: CpuMeter,
    body_of: Callable[[int], dict[str, Any]],
    expected_output: Callable[[int], dict[str, Any]],
    watched: list[asyncio.Task[Any]],
) -> list[float]:
    """``opts.warmup`` uncounted, then ``opts.executes`` counted sequential sync executes; their latencies in ms."""
    headers = {**JSON_HEADERS, "waitForSeconds": "10"}
    latencies: list[float] = []

    async def execute(index: int) -> float:
        body = _encode(body_of(index))
        began = time.perf_counter()
        response = await client.post(path, content=body, headers=headers)
        elapsed = time.perf_counter() - began
        if response.status_code != 200:
            raise BenchError(f"POST {path}: expected 200, got {response.status_code}: {response.text[:500]}")
        run = _decode(response.content)
        if run.get("status") != "COMPLETED" or run.get("output") != expected_output(index):
            raise BenchError(
                f"POST {path}: expected a COMPLETED run with output {expected_output(index)}, got status "
                f"{run.get('status')!r} output {run.get('output')!r}"
            )
        return elapsed

    async def all_executes() -> None:
        for index in range(opts.warmup):
            await execute(index)
        meter.start()
        for index in range(opts.executes):
            latencies.append(await execute(opts.warmup + index))
        meter.stop()

    runner = asyncio.create_task(all_executes(), name="executes")
    finished = asyncio.Event()
    runner.add_done_callback(lambda _: finished.set())
    try:
        await wait_for(finished, watched, opts.timeout, f"{opts.executes} executes")
        await runner
    finally:
        runner.cancel()
    return sorted(v * 1000 for v in latencies)


async def workload_w2(base_url: str, store: str, opts: Options, meter: CpuMeter) -> dict[str, Any]:
    """Sequential sync executes of a 1-step SIMPLE workflow; one worker waits in a long poll."""
    return await _latency(base_url, store, opts, meter, "W2", "bench_w2", 1)


async def workload_w6(base_url: str, store: str, opts: Options, meter: CpuMeter) -> dict[str, Any]:
    """W2 with W5's workers: every execute's one task is wanted by all of them."""
    return await _latency(base_url, store, opts, meter, "W6", "bench_w6", 3 * opts.workers_per_type)


async def workload_w7(base_url: str, store: str, opts: Options, meter: CpuMeter) -> dict[str, Any]:
    """W2 with three steps, each of its own type with its own long-polling worker: what a step after the first
    waits for."""
    return await _latency(base_url, store, opts, meter, "W7", "bench_w7", 1, steps=3)


async def _latency(
    base_url: str, store: str, opts: Options, meter: CpuMeter, workload: str, name: str, workers: int, steps: int = 1
) -> dict[str, Any]:
    """Sequential sync executes of a ``steps``-step SIMPLE workflow, each step a task type of its own;
    ``workers`` worker coroutines per type wait in long polls."""
    task_types = [f"{name}_task"] if steps == 1 else [f"{name}_task{index}" for index in range(steps)]
    async with new_client(base_url) as worker_client, new_client(base_url) as client:
        await register(client, sequence_workflow(name, task_types))
        pool = WorkerPool(worker_client, batch=1, poll_timeout_ms=5000)
        for task_type in task_types:
            pool.start(task_type, workers)
        await asyncio.sleep(0.3)
        try:
            ms = await timed_executes(
                client,
                f"/api/workflow/execute/{name}",
                opts,
                meter,
                lambda index: {"input": {"n": index}},
                lambda index: {"n": index + steps},
                [*pool.tasks],
            )
        finally:
            await pool.stop()
    return {
        "workload": workload,
        "store": store,
        "shape": f"{steps}-step SIMPLE, sync execute",
        **latency_figures(ms),
        "warmup": opts.warmup,
        "worker_coroutines": workers * steps,
        "wait_for_seconds": 10,
    }


HELLO_WORLD = {
    "name": "bench_w4",
    "version": 1,
    "tasks": [
        {
            "name": "greet",
            "taskReferenceName": "greet",
            "type": "INLINE",
            "inputParameters": {
                "evaluatorType": "javascript",
                "expression": "'Hello, ' + $.name + '!'",
                "name": "${workflow.input.name}",
            },
        }
    ],
    "outputParameters": {"greeting": "${greet.output.result}"},
}


async def workload_w4(base_url: str, store: str, opts: Options, meter: CpuMeter) -> dict[str, Any]:
    """Sequential sync executes of a one-INLINE workflow (the example ``hello_world``'s shape): no worker."""
    async with new_client(base_url) as client:
        await register(client, HELLO_WORLD)
        ms = await timed_executes(
            client,
            "/api/workflow/execute/bench_w4",
            opts,
            meter,
            lambda index: {"input": {"name": f"n{index}"}},
            lambda index: {"greeting": f"Hello, n{index}!"},
            [],
        )
    return {
        "workload": "W4",
        "store": store,
        "shape": "1 INLINE script, sync execute",
        **latency_figures(ms),
        "warmup": opts.warmup,
    }


_FAN_OUT_SCRIPT = """(function () {
  var tasks = [], inputs = {};
  for (var i = 0; i < $.branches; i++) {
    tasks.push({name: $.taskType, taskReferenceName: 'b' + i, type: 'SIMPLE'});
    inputs['b' + i] = {n: i};
  }
  return {dynamicTasks: tasks, dynamicTasksInput: inputs};
})()"""


def fan_out_workflow(name: str, task_type: str) -> dict[str, Any]:
    """An INLINE script lists ``workflow.input.branches`` SIMPLE tasks (as Conductor's cookbook does), a
    FORK_JOIN_DYNAMIC runs them, a JOIN joins them; the run's output is the JOIN's."""
    return {
        "name": name,
        "version": 1,
        "schemaVersion": 2,
        "tasks": [
            {
                "name": "plan",
                "taskReferenceName": "plan",
                "type": "INLINE",
                "inputParameters": {
                    "evaluatorType": "javascript",
                    "expression": _FAN_OUT_SCRIPT,
                    "branches": "${workflow.input.branches}",
                    "taskType": task_type,
                },
            },
            {
                "name": "fan_out",
                "taskReferenceName": "fan_out",
                "type": "FORK_JOIN_DYNAMIC",
                "inputParameters": {
                    "dynamicTasks": "${plan.output.result.dynamicTasks}",
                    "dynamicTasksInput": "${plan.output.result.dynamicTasksInput}",
                },
                "dynamicForkTasksParam": "dynamicTasks",
                "dynamicForkTasksInputParamName": "dynamicTasksInput",
            },
            {"name": "fan_in", "taskReferenceName": "fan_in", "type": "JOIN"},
        ],
        "outputParameters": {"joined": "${fan_in.output}"},
        "ownerEmail": "bench@example.com",
    }


async def workload_w3(base_url: str, store: str, opts: Options, meter: CpuMeter) -> dict[str, Any]:
    """One run that fans out ``steps`` SIMPLE tasks with FORK_JOIN_DYNAMIC and joins them; workers in batches."""
    name = "bench_w3"
    task_type = "bench_fan"
    steps = opts.steps
    refs = [f"b{i}" for i in range(steps)]
    run_input = {"branches": steps}
    async with new_client(base_url) as client:
        await register(client, fan_out_workflow(name, task_type))
        done = asyncio.Event()
        finished_at: list[float] = []

        def on_completed(_: str, task: dict[str, Any]) -> None:
            if pool.completed[task_type] >= steps and not done.is_set():
                finished_at.append(time.perf_counter())
                done.set()

        pool = WorkerPool(client, batch=opts.batch, poll_timeout_ms=1000, on_completed=on_completed)
        pool.start(task_type, opts.workers_per_type)
        await asyncio.sleep(0.3)
        try:
            meter.start()
            began = time.perf_counter()
            response = await client.post(f"/api/workflow/{name}", content=_encode(run_input), headers=JSON_HEADERS)
            if response.status_code != 200:
                raise BenchError(
                    f"POST /api/workflow/{name}: expected 200, got {response.status_code}: {response.text}"
                )
            workflow_id = response.text
            await wait_for(done, pool.tasks, opts.timeout, f"{steps} branches to complete")
            ended = finished_at[0]
            if await confirm_completed(client, [workflow_id], timeout=30) > 1:
                ended = time.perf_counter()
            confirmed_at = time.perf_counter()
            meter.stop()
        finally:
            await pool.stop()
        status = _decode((await client.get(f"/api/workflow/{workflow_id}/status")).content)
        joined = status.get("output", {}).get("joined") or {}
        if joined != {ref: {"n": i + 1} for i, ref in enumerate(refs)}:
            raise BenchError(f"W3 run output: expected the {steps} branches' outputs, got {len(joined)} entries")
    seconds = ended - began
    return {
        "workload": "W3",
        "store": store,
        "shape": f"FORK_JOIN_DYNAMIC-{steps}",
        "runs": 1,
        "steps": steps,
        "seconds": round(seconds, 3),
        "steps_per_s": round(steps / seconds, 1),
        "ms_per_step": round(seconds * 1000 / steps, 3),
        "confirm_ms": round((confirmed_at - ended) * 1000, 1),
        "worker_coroutines": opts.workers_per_type,
        "poll_batch": opts.batch,
    }


WORKLOAD_FUNCTIONS: dict[str, Callable[[str, str, Options, CpuMeter], Awaitable[dict[str, Any]]]] = {
    "W1": workload_w1,
    "W2": workload_w2,
    "W3": workload_w3,
    "W4": workload_w4,
    "W5": workload_w5,
    "W6": workload_w6,
    "W7": workload_w7,
}
