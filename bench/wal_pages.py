"""What a W1 run costs SQLite's log: commits and WAL pages per run, by the b-tree each page belongs to.

    .venv/bin/python bench/wal_pages.py [--runs 1000]

W1's shape (3-step SIMPLE runs, 8 starters, 4 workers per task type reporting with
``update_and_poll``) driven through the service layer in this process, with no HTTP,
on a fresh SQLite file whose background checkpoints are stopped, so the WAL keeps
every frame written. The frames are then read from the WAL file and each page number
is mapped to its table or index through SQLite's ``dbstat``. ``?`` is a page no
b-tree owns at the end (freed). Throughput here is not W1's: use ``bench/run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import sqlite3
import struct
import sys
import tempfile
from pathlib import Path

import msgspec
import uvloop
from driving import sequence_workflow  # bench/driving.py: this folder is on the path when run as a script

from baton.config import Settings
from baton.model import StartWorkflowRequest, TaskResult, WorkflowDef
from baton.model.runs import TaskResultStatus
from baton.runtime.notifier import Notifier
from baton.service import Baton
from baton.store.sqlite import SqliteStore

TASK_TYPES = ["bench_a", "bench_b", "bench_c"]
WAL_HEADER_BYTES = 32
FRAME_HEADER_BYTES = 24


async def drive(baton: Baton, runs: int) -> None:
    """Start ``runs`` runs and work them to the end, W1's way."""
    done = asyncio.Event()
    finished: collections.Counter[str] = collections.Counter()
    started = 0

    async def worker(task_type: str) -> None:
        task = None
        while not done.is_set():
            if task is None:
                polled = await baton.tasks.poll(task_type, worker_id="bench", count=1, timeout_ms=200)
                if not polled:
                    continue
                task = polled[0]
            result = TaskResult(
                task_id=task.task_id,
                workflow_instance_id=task.workflow_instance_id,
                status=TaskResultStatus.COMPLETED,
                output_data={"n": 1},
            )
            task = await baton.tasks.update_and_poll(result)
            finished[task_type] += 1
            if finished[TASK_TYPES[-1]] >= runs:
                done.set()

    async def starter() -> None:
        nonlocal started
        while started < runs:
            started += 1
            await baton.runs.start(StartWorkflowRequest(name="bench_w1", input={"n": started}))

    workers = [asyncio.create_task(worker(task_type)) for task_type in TASK_TYPES for _ in range(4)]
    await asyncio.gather(*(starter() for _ in range(8)))
    await done.wait()
    for task in workers:
        task.cancel()
    await asyncio.gather(*workers, return_exceptions=True)


def frames_by_btree(path: str) -> tuple[collections.Counter[str], int]:
    """Frames in the WAL by the b-tree that owns their page, and how many of them ended a commit."""
    with sqlite3.connect(path) as conn:
        owner = dict((page, name) for name, page in conn.execute("SELECT name, pageno FROM dbstat"))
    data = Path(path + "-wal").read_bytes()
    (page_size,) = struct.unpack(">I", data[8:12])
    frames: collections.Counter[str] = collections.Counter()
    commits = 0
    offset = WAL_HEADER_BYTES
    while offset + FRAME_HEADER_BYTES + page_size <= len(data):
        page, size_after_commit = struct.unpack(">II", data[offset : offset + 8])
        frames[owner.get(page, "?")] += 1
        commits += size_after_commit != 0
        offset += FRAME_HEADER_BYTES + page_size
    return frames, commits


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="baton-wal-") as scratch:
        path = os.path.join(scratch, "baton.db")
        store = SqliteStore(path)
        await store.open()
        baton = Baton(store, Settings(database_url=f"sqlite:///{path}"), Notifier())
        definition = msgspec.convert(sequence_workflow("bench_w1", TASK_TYPES), WorkflowDef)
        await baton.definitions.register_workflow(definition, overwrite=True)
        # The frames must stay in the log to be counted: no checkpoints from here on (private to the store).
        if store._checkpointer is not None:
            store._checkpointer.stop()
            store._checkpointer = None
        store._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        await drive(baton, args.runs)
        frames, commits = frames_by_btree(path)
        await store.close()
    total = sum(frames.values())
    print(f"{args.runs} runs: {commits / args.runs:.2f} commits and {total / args.runs:.1f} WAL pages a run")
    for name, count in frames.most_common():
        print(f"  {name:40s} {count / args.runs:6.2f} pages a run")
    return 0


if __name__ == "__main__":
    sys.exit(uvloop.run(main()))
