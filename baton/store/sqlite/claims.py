"""SQLite's claims: picked and rewritten under the single writer."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection

from baton.model import Task
from baton.store.base import (
    ClaimLimits,
    DueTimer,
)
from baton.store.common import codec, plans
from baton.store.sqlite.commits import acknowledged_after_commit, translated
from baton.store.sqlite.connection import SqliteConnection
from baton.store.sqlite.queries import (
    CLAIM_TASK,
    COUNT_CLAIM_LEDGER,
    COUNT_QUEUED,
    COUNT_QUEUED_OF,
    DELETE_QUEUE_BY_ID,
    INSERT_CLAIM_LEDGER,
    PICK_QUEUED,
    PRUNE_CLAIM_LEDGER,
    SELECT_DUE_TIMERS,
)


class SqliteClaims(SqliteConnection):
    """Hands out queued tasks; keeps the copies of runs up to the claims."""

    # -- queue and timers ------------------------------------------------------------

    @acknowledged_after_commit
    async def claim_tasks(
        self, task_type: str, *, worker_id: str | None, count: int, now: int, limits: ClaimLimits | None = None
    ) -> list[Task]:
        if count <= 0:
            return []
        try:
            with self._write("claim tasks") as conn:
                return self._claim(conn, task_type, worker_id, count, now, limits)
        except BaseException:
            self._runs.clear()  # a copy may hold a claim that was rolled back
            raise

    def _claim(
        self,
        conn: sqlite3.Connection,
        task_type: str,
        worker_id: str | None,
        count: int,
        now: int,
        limits: ClaimLimits | None = None,
    ) -> list[Task]:
        if limits is not None:
            # The single writer (BEGIN IMMEDIATE) serialises limited claims: the count cannot go stale.
            window_start = now - limits.window_ms
            conn.execute(PRUNE_CLAIM_LEDGER, (task_type, window_start))
            in_progress, in_window = conn.execute(COUNT_CLAIM_LEDGER, (task_type, window_start)).fetchone()
            count = limits.allowed(count, in_progress=in_progress, in_window=in_window)
            if count <= 0:
                return []
        rows = conn.execute(PICK_QUEUED, (task_type, now, count)).fetchall()
        if not rows:
            return []
        tasks = [plans.claimed(codec.decode_task(body), worker_id=worker_id, now=now) for _, body, _ in rows]
        conn.executemany(DELETE_QUEUE_BY_ID, [(queue_id,) for queue_id, _, _ in rows])
        conn.executemany(CLAIM_TASK, [plans.claim_update_row(t) for t in tasks])
        if limits is not None:
            conn.executemany(INSERT_CLAIM_LEDGER, [(task_type, t.task_id, now) for t in tasks])
        # The claim bumped each row's version by one: the next decision on the run finds them cached.
        for task, (_, body, version) in zip(tasks, rows, strict=True):
            self._tasks.claimed(task, version + 1, len(body))
            cached = self._runs.peek(task.workflow_instance_id)
            if cached is not None and not cached.claimed(task, version):
                self._runs.forget(task.workflow_instance_id)
        return tasks

    @acknowledged_after_commit
    async def queue_sizes(self, task_types: Collection[str] | None = None) -> dict[str, int]:
        conn = self._connection()
        with translated("count queued tasks"):
            if task_types is None:
                return {task_type: n for task_type, n in conn.execute(COUNT_QUEUED)}
            sizes = dict.fromkeys(task_types, 0)
            if sizes:
                sizes.update(conn.execute(COUNT_QUEUED_OF, (json.dumps(list(sizes)),)).fetchall())
            return sizes

    @acknowledged_after_commit
    async def due_timers(self, now: int, limit: int) -> list[DueTimer]:
        conn = self._connection()
        with translated("read due timers"):
            rows = conn.execute(SELECT_DUE_TIMERS, (now, limit)).fetchall()
        return [DueTimer(workflow_id=workflow_id, task_id=task_id) for workflow_id, task_id, _ in rows]
