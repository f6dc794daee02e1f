"""SQLite's reads of runs and tasks: under one read of the commit group, or beside the loop when they can be long."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Collection
from typing import TypeVar

from baton.model import Task, Workflow, WorkflowDef
from baton.store.base import (
    RunTaskPage,
)
from baton.store.common import codec
from baton.store.sqlite.commits import acknowledged_after_commit, translated
from baton.store.sqlite.connection import SqliteConnection
from baton.store.sqlite.queries import (
    COUNT_RUN_TASKS_BY_STATUS,
    SELECT_CORRELATED_RUNS,
    SELECT_RUN,
    SELECT_RUN_SNAPSHOT,
    SELECT_RUN_STATUS,
    SELECT_RUN_TASK_PAGE,
    SELECT_RUN_TASKS,
    SELECT_RUN_TASKS_AFTER,
    SELECT_RUN_TASKS_UP_TO,
    SELECT_TASK,
    SELECT_TASKS_OF_RUNS,
    SELECT_WORKFLOW_ID_OF_TASK,
)

_R = TypeVar("_R")

ON_LOOP_TASKS = 1000
"""A run read whole with more tasks than this, or one this process keeps no copy of, is read beside the loop."""


class SqliteReads(SqliteConnection):
    """What the API reads of runs and tasks."""

    async def _read_beside_the_loop(self, action: str, read: Callable[[sqlite3.Connection], _R]) -> _R:
        """A read that can take long, on a reader's connection in a thread (``off_loop``); on the loop for
        ``:memory:``, which has no readers."""
        if self._off_loop is None:
            with self._read(action) as conn:
                return read(conn)
        return await self._off_loop.run(action, read)

    def _known_to_be_small(self, workflow_id: str) -> bool:
        """This process's copy of the run says it is read and decoded in a few milliseconds, on the loop."""
        cached = self._runs.peek(workflow_id)
        return cached is not None and len(cached.tasks) <= ON_LOOP_TASKS

    @acknowledged_after_commit
    async def get_run(
        self, workflow_id: str, *, include_tasks: bool = True, task_limit: int | None = None
    ) -> Workflow | None:
        def read(conn: sqlite3.Connection) -> Workflow | None:
            row = conn.execute(SELECT_RUN, (workflow_id,)).fetchone()
            if row is None:
                return None
            task_rows = []
            if include_tasks and task_limit is None:
                task_rows = conn.execute(SELECT_RUN_TASKS, (workflow_id,)).fetchall()
            elif include_tasks:
                task_rows = conn.execute(SELECT_RUN_TASKS_UP_TO, (workflow_id, task_limit)).fetchall()
            return codec.decode_run(row[0], (b for (b,) in task_rows))

        if include_tasks and task_limit is None and not self._known_to_be_small(workflow_id):
            return await self._read_beside_the_loop("read a run", read)
        with self._read("read a run") as conn:
            return read(conn)

    @acknowledged_after_commit
    async def get_run_json(self, workflow_id: str, task_limit: int) -> tuple[str, list[tuple[int, str]]] | None:
        with self._read("read a run") as conn:
            row = conn.execute(SELECT_RUN, (workflow_id,)).fetchone()
            if row is None:
                return None
            tasks: list[tuple[int, str]] = conn.execute(
                SELECT_RUN_TASKS_AFTER, (workflow_id, -1, task_limit)
            ).fetchall()
        return row[0], tasks

    @acknowledged_after_commit
    async def run_task_json_after(self, workflow_id: str, after_seq: int, limit: int) -> list[tuple[int, str]]:
        conn = self._connection()
        with translated("read a run's tasks"):
            rows: list[tuple[int, str]] = conn.execute(
                SELECT_RUN_TASKS_AFTER, (workflow_id, after_seq, limit)
            ).fetchall()
        return rows  # SQLite's bodies are always whole: written by encoding the task

    @acknowledged_after_commit
    async def run_tasks(
        self, workflow_id: str, *, start: int, count: int, statuses: Collection[str] = ()
    ) -> RunTaskPage | None:
        def read(conn: sqlite3.Connection) -> RunTaskPage | None:
            if conn.execute(SELECT_RUN_STATUS, (workflow_id,)).fetchone() is None:
                return None
            summary = {status: n for status, n in conn.execute(COUNT_RUN_TASKS_BY_STATUS, (workflow_id,))}
            wanted = json.dumps(sorted(set(statuses)))
            rows = conn.execute(SELECT_RUN_TASK_PAGE, (workflow_id, wanted, count, start)).fetchall()
            total = sum(n for status, n in summary.items() if not statuses or status in statuses)
            return RunTaskPage(total_hits=total, results=[codec.decode_task(body) for (body,) in rows], summary=summary)

        return await self._read_beside_the_loop("read a run's tasks", read)

    @acknowledged_after_commit
    async def get_run_definition(self, workflow_id: str) -> WorkflowDef | None:
        conn = self._connection()
        with translated("read a run's definition"):
            row = conn.execute(SELECT_RUN_SNAPSHOT, (workflow_id,)).fetchone()
        # Decoded afresh: the caller owns what it gets.
        return None if row is None else codec.decode_workflow_def(row[0])

    @acknowledged_after_commit
    async def find_runs_by_correlation(
        self, name: str, correlation_id: str, *, include_closed: bool, include_tasks: bool
    ) -> list[Workflow]:
        with self._read("find correlated runs") as conn:
            rows = conn.execute(SELECT_CORRELATED_RUNS, (name, correlation_id, include_closed)).fetchall()
            tasks: dict[str, list[str]] = {}
            if include_tasks and rows:
                ids = json.dumps([workflow_id for workflow_id, _ in rows])
                for workflow_id, body in conn.execute(SELECT_TASKS_OF_RUNS, (ids,)):
                    tasks.setdefault(workflow_id, []).append(body)
        return [codec.decode_run(body, tasks.get(workflow_id, ())) for workflow_id, body in rows]

    @acknowledged_after_commit
    async def get_task(self, task_id: str) -> Task | None:
        conn = self._connection()
        with translated("read a task"):
            row = conn.execute(SELECT_TASK, (task_id,)).fetchone()
        return None if row is None else codec.decode_task(row[0])

    @acknowledged_after_commit
    async def workflow_id_of_task(self, task_id: str) -> str | None:
        conn = self._connection()
        with translated("read a task"):
            row = conn.execute(SELECT_WORKFLOW_ID_OF_TASK, (task_id,)).fetchone()
        return None if row is None else str(row[0])
