"""PostgreSQL's reads of runs and tasks: each one statement, so one snapshot."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from baton.model import Task, Workflow, WorkflowDef
from baton.store.base import (
    RunTaskPage,
)
from baton.store.common import codec
from baton.store.postgres.connection import PostgresConnection, _args
from baton.store.postgres.queries import (
    DELETE_RUN,
    SELECT_CORRELATED_RUNS,
    SELECT_CORRELATED_RUNS_ARGS,
    SELECT_RUN,
    SELECT_RUN_JSON,
    SELECT_RUN_SNAPSHOT,
    SELECT_RUN_TASK_PAGE,
    SELECT_RUN_TASKS_AFTER,
    SELECT_RUN_WITH_FIRST_TASKS,
    SELECT_RUN_WITH_TASKS,
    SELECT_TASK,
    SELECT_WORKFLOW_ID_OF_TASK,
)


class PostgresReads(PostgresConnection):
    """What the API reads of runs and tasks."""

    async def get_run(
        self, workflow_id: str, *, include_tasks: bool = True, task_limit: int | None = None
    ) -> Workflow | None:
        if not include_tasks:
            row = await self._fetchone("read a run", SELECT_RUN, workflow_id)
        elif task_limit is None:
            row = await self._fetchone("read a run", SELECT_RUN_WITH_TASKS, workflow_id)
        else:
            row = await self._fetchone("read a run", SELECT_RUN_WITH_FIRST_TASKS, workflow_id, task_limit)
        return None if row is None else codec.decode_run(row[0], row[1] or ())

    async def get_run_json(self, workflow_id: str, task_limit: int) -> tuple[str, list[tuple[int, str]]] | None:
        row = await self._fetchone("read a run", SELECT_RUN_JSON, workflow_id, task_limit)
        if row is None:
            return None
        body, seqs, statuses, bodies = row
        return body, _task_json(zip(seqs or (), statuses or (), bodies or (), strict=True))

    async def run_task_json_after(self, workflow_id: str, after_seq: int, limit: int) -> list[tuple[int, str]]:
        rows = await self._fetchall("read a run's tasks", SELECT_RUN_TASKS_AFTER, workflow_id, after_seq, limit)
        return _task_json(rows)

    async def run_tasks(
        self, workflow_id: str, *, start: int, count: int, statuses: Collection[str] = ()
    ) -> RunTaskPage | None:
        wanted = sorted(set(statuses))
        row = await self._fetchone("read a run's tasks", SELECT_RUN_TASK_PAGE, workflow_id, wanted, count, start)
        assert row is not None  # the statement always answers one row
        exists, counts, bodies = row
        if not exists:
            return None
        summary = {status: int(n) for status, n in counts}
        total = sum(n for status, n in summary.items() if not wanted or status in wanted)
        return RunTaskPage(total_hits=total, results=[codec.decode_task(body) for body in bodies], summary=summary)

    async def get_run_definition(self, workflow_id: str) -> WorkflowDef | None:
        row = await self._fetchone("read a run's definition", SELECT_RUN_SNAPSHOT, workflow_id)
        # Decoded afresh: the caller owns what it gets.
        return None if row is None else codec.decode_workflow_def(row[0])

    async def find_runs_by_correlation(
        self, name: str, correlation_id: str, *, include_closed: bool, include_tasks: bool
    ) -> list[Workflow]:
        params = {
            "name": name,
            "correlation_id": correlation_id,
            "include_closed": include_closed,
            "include_tasks": include_tasks,
        }
        rows = await self._fetchall(
            "find correlated runs", SELECT_CORRELATED_RUNS, *_args(SELECT_CORRELATED_RUNS_ARGS, params)
        )
        return [codec.decode_run(body, tasks or ()) for body, tasks in rows]

    async def delete_run(self, workflow_id: str) -> bool:
        self._known.forget(workflow_id)
        deleted = await self._rowcount("delete a run", DELETE_RUN, workflow_id) > 0
        self._known.forget(workflow_id)  # a decision may have remembered it meanwhile
        return deleted

    async def get_task(self, task_id: str) -> Task | None:
        row = await self._fetchone("read a task", SELECT_TASK, task_id)
        return None if row is None else codec.decode_task(row[0])

    async def workflow_id_of_task(self, task_id: str) -> str | None:
        row = await self._fetchone("read a task", SELECT_WORKFLOW_ID_OF_TASK, task_id)
        return None if row is None else str(row[0])


def _task_json(rows: Iterable[Sequence[Any]]) -> list[tuple[int, str]]:
    """``(seq, JSON)`` of ``(seq, status, body)`` rows: a claimed body carries the claimed fields twice (see
    _CLAIM_CTES) until its task's next decision, so an IN_PROGRESS one is re-encoded."""
    return [
        (seq, codec.encode(codec.decode_task(body)) if status == "IN_PROGRESS" else body) for seq, status, body in rows
    ]
