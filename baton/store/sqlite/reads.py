"""SQLite's reads of runs and tasks, each under one read of the commit group."""

from __future__ import annotations

import json
from collections.abc import Collection

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


class SqliteReads(SqliteConnection):
    """What the API reads of runs and tasks."""

    @acknowledged_after_commit
    async def get_run(
        self, workflow_id: str, *, include_tasks: bool = True, task_limit: int | None = None
    ) -> Workflow | None:
        with self._read("read a run") as conn:
            row = conn.execute(SELECT_RUN, (workflow_id,)).fetchone()
            if row is None:
                return None
            task_rows = []
            if include_tasks and task_limit is None:
                task_rows = conn.execute(SELECT_RUN_TASKS, (workflow_id,)).fetchall()
            elif include_tasks:
                task_rows = conn.execute(SELECT_RUN_TASKS_UP_TO, (workflow_id, task_limit)).fetchall()
        return codec.decode_run(row[0], (b for (b,) in task_rows))

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
        with self._read("read a run's tasks") as conn:
            if conn.execute(SELECT_RUN_STATUS, (workflow_id,)).fetchone() is None:
                return None
            summary = {status: n for status, n in conn.execute(COUNT_RUN_TASKS_BY_STATUS, (workflow_id,))}
            wanted = json.dumps(sorted(set(statuses)))
            rows = conn.execute(SELECT_RUN_TASK_PAGE, (workflow_id, wanted, count, start)).fetchall()
        total = sum(n for status, n in summary.items() if not statuses or status in statuses)
        return RunTaskPage(total_hits=total, results=[codec.decode_task(body) for (body,) in rows], summary=summary)

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
