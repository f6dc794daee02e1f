"""The store on one SQLite file: its parts put together."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence

from baton.engine.decision import Signal
from baton.errors import ConflictError
from baton.model import TaskDef, TaskExecLog, WorkflowDef
from baton.store.base import (
    RunPage,
    SearchRequest,
    TaskPage,
)
from baton.store.common import codec, plans
from baton.store.common import search as search_sql
from baton.store.roles import Store
from baton.store.sqlite.commits import acknowledged_after_commit, translated
from baton.store.sqlite.connection import _DELETE_CHUNK
from baton.store.sqlite.decisions import SqliteDecisions
from baton.store.sqlite.queries import (
    DELETE_RUN,
    DELETE_SIGNAL,
    DELETE_TASK_DEF,
    DELETE_TASKS_BY_ID,
    DELETE_WORKFLOW_DEF,
    INSERT_TASK_DEF_NEW,
    INSERT_TASK_LOG,
    INSERT_WORKFLOW_DEF_NEW,
    RETURNING_ID,
    SELECT_ALL_TASK_DEFS,
    SELECT_ALL_WORKFLOW_DEFS,
    SELECT_LATEST_WORKFLOW_DEF,
    SELECT_SIGNALS_BEFORE,
    SELECT_TASK_DEFS,
    SELECT_TASK_IDS_OF_RUN,
    SELECT_TASK_LOGS,
    SELECT_WORKFLOW_DEF,
    SELECT_WORKFLOW_DEFS_OF,
    SELECT_WORKFLOW_ID_OF_TASK,
    UPSERT_TASK_DEF,
    UPSERT_WORKFLOW_DEF,
)
from baton.store.sqlite.reads import SqliteReads


class SqliteStore(SqliteDecisions, SqliteReads, Store):
    """The store on one SQLite file (``:memory:`` for a private in-memory database)."""

    # -- definitions ---------------------------------------------------------------

    @acknowledged_after_commit
    async def put_workflow_defs(self, defs: list[WorkflowDef], *, overwrite: bool) -> None:
        rows = [plans.workflow_def_row(d) for d in defs]
        with self._write("store workflow definitions") as conn:
            if overwrite:
                conn.executemany(UPSERT_WORKFLOW_DEF, rows)
                return
            for definition, row in zip(defs, rows, strict=True):
                if conn.execute(INSERT_WORKFLOW_DEF_NEW, row).rowcount == 0:
                    raise ConflictError(
                        f"Workflow definition {definition.name} version {definition.version} already exists"
                    )

    @acknowledged_after_commit
    async def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef | None:
        conn = self._connection()
        with translated("read a workflow definition"):
            if version is None:
                row = conn.execute(SELECT_LATEST_WORKFLOW_DEF, (name,)).fetchone()
            else:
                row = conn.execute(SELECT_WORKFLOW_DEF, (name, version)).fetchone()
        return None if row is None else codec.decode_workflow_def(row[0])

    @acknowledged_after_commit
    async def list_workflow_defs(self, name: str | None = None) -> list[WorkflowDef]:
        conn = self._connection()
        with translated("list workflow definitions"):
            if name is None:
                rows = conn.execute(SELECT_ALL_WORKFLOW_DEFS).fetchall()
            else:
                rows = conn.execute(SELECT_WORKFLOW_DEFS_OF, (name,)).fetchall()
        return [codec.decode_workflow_def(body) for (body,) in rows]

    @acknowledged_after_commit
    async def delete_workflow_def(self, name: str, version: int) -> bool:
        with self._write("delete a workflow definition") as conn:
            return conn.execute(DELETE_WORKFLOW_DEF, (name, version)).rowcount > 0

    @acknowledged_after_commit
    async def put_task_defs(self, defs: list[TaskDef], *, overwrite: bool = True) -> None:
        rows = [plans.task_def_row(d) for d in defs]
        with self._write("store task definitions") as conn:
            if overwrite:
                conn.executemany(UPSERT_TASK_DEF, rows)
                return
            for definition, row in zip(defs, rows, strict=True):
                if conn.execute(INSERT_TASK_DEF_NEW, row).rowcount == 0:
                    raise ConflictError(f"Task definition {definition.name} already exists")

    @acknowledged_after_commit
    async def get_task_defs(self, names: Collection[str]) -> dict[str, TaskDef]:
        if not names:
            return {}
        conn = self._connection()
        with translated("read task definitions"):
            rows = conn.execute(SELECT_TASK_DEFS, (json.dumps(list(names)),)).fetchall()
        found = [codec.decode_task_def(body) for (body,) in rows]
        return {d.name: d for d in found}

    @acknowledged_after_commit
    async def list_task_defs(self) -> list[TaskDef]:
        conn = self._connection()
        with translated("list task definitions"):
            rows = conn.execute(SELECT_ALL_TASK_DEFS).fetchall()
        return [codec.decode_task_def(body) for (body,) in rows]

    @acknowledged_after_commit
    async def delete_task_def(self, name: str) -> bool:
        with self._write("delete a task definition") as conn:
            return conn.execute(DELETE_TASK_DEF, (name,)).rowcount > 0

    @acknowledged_after_commit
    async def delete_run(self, workflow_id: str) -> bool:
        """Its tasks go first, ``_DELETE_CHUNK`` at a time, each chunk committed in a turn of its own, so a run of
        100,000 tasks does not hold the event loop for the whole cascade; then the run row (and whatever is
        left of it, by the cascade). A decision on the run meanwhile finds some of its tasks gone."""
        self._forget_run(workflow_id)
        while True:
            with self._write("delete a run's tasks") as conn:
                task_ids = [
                    task_id for (task_id,) in conn.execute(SELECT_TASK_IDS_OF_RUN, (workflow_id, _DELETE_CHUNK))
                ]
                if task_ids:
                    conn.execute(DELETE_TASKS_BY_ID, (json.dumps(task_ids),))
            self._tasks.forget(task_ids)
            if len(task_ids) < _DELETE_CHUNK:
                break
            await self.commits.settled()
        with self._write("delete a run") as conn:
            deleted = conn.execute(DELETE_RUN, (workflow_id,)).rowcount > 0
        self._forget_run(workflow_id)
        return deleted

    def _forget_run(self, workflow_id: str) -> None:
        """Drop the copy of a run that is deleted, and its tasks' cache entries."""
        cached = self._runs.forget(workflow_id)
        if cached is not None:
            self._tasks.forget(cached.task_ids())

    # -- task logs -------------------------------------------------------------------

    @acknowledged_after_commit
    async def add_task_logs(self, task_id: str, logs: Sequence[TaskExecLog]) -> bool:
        rows = [(task_id, log.created_time, codec.encode_log_line(log.log)) for log in logs]
        with self._write("add task logs") as conn:
            if conn.execute(SELECT_WORKFLOW_ID_OF_TASK, (task_id,)).fetchone() is None:
                return False
            conn.executemany(INSERT_TASK_LOG, rows)
        return True

    @acknowledged_after_commit
    async def get_task_logs(self, task_id: str) -> list[TaskExecLog] | None:
        conn = self._connection()
        with translated("read task logs"):
            rows = conn.execute(SELECT_TASK_LOGS, (task_id,)).fetchall()
        return codec.task_logs_of(task_id, rows)

    # -- the outbox --------------------------------------------------------------------

    @acknowledged_after_commit
    async def signals_created_before(self, created_before: int, limit: int) -> list[Signal]:
        conn = self._connection()
        with translated("read the outbox"):
            rows = conn.execute(SELECT_SIGNALS_BEFORE, (created_before, limit)).fetchall()
        return [codec.decode_signal(body) for (body,) in rows]

    @acknowledged_after_commit
    async def delete_signal(self, signal_id: str) -> None:
        with self._write("delete a signal") as conn:
            conn.execute(DELETE_SIGNAL, (signal_id,))

    # -- search and retention --------------------------------------------------------

    def _search(self, statements: search_sql.SearchStatements, request: SearchRequest) -> tuple[int, list[str]]:
        with self._read("search") as conn:
            bodies = [body for (body,) in conn.execute(statements.page.sql, statements.page.params)]
            counted = None
            if not search_sql.page_is_last(request.start, request.size, len(bodies)):
                counted = int(conn.execute(statements.count.sql, statements.count.params).fetchone()[0])
        return search_sql.total_hits(request.start, request.size, len(bodies), counted), bodies

    @acknowledged_after_commit
    async def search_runs(self, request: SearchRequest) -> RunPage:
        total, bodies = self._search(search_sql.search_runs(search_sql.Dialect.SQLITE, request), request)
        return RunPage(total_hits=total, results=[codec.decode_run(body) for body in bodies])

    @acknowledged_after_commit
    async def search_tasks(self, request: SearchRequest) -> TaskPage:
        total, bodies = self._search(search_sql.search_tasks(search_sql.Dialect.SQLITE, request), request)
        return TaskPage(total_hits=total, results=[codec.decode_task(body) for body in bodies])

    @acknowledged_after_commit
    async def running_run_ids(
        self, name: str, *, version: int | None, start_from: int | None, start_to: int | None
    ) -> list[str]:
        statement = search_sql.running_run_ids(
            search_sql.Dialect.SQLITE, name, version=version, start_from=start_from, start_to=start_to
        )
        conn = self._connection()
        with translated("list running runs"):
            return [workflow_id for (workflow_id,) in conn.execute(statement.sql, statement.params)]

    @acknowledged_after_commit
    async def delete_finished_before(self, cutoff: int, limit: int) -> int:
        statement = search_sql.delete_finished_before(search_sql.Dialect.SQLITE, cutoff, limit)
        with self._write("delete finished runs") as conn:
            deleted = [workflow_id for (workflow_id,) in conn.execute(statement.sql + RETURNING_ID, statement.params)]
        for workflow_id in deleted:
            self._forget_run(workflow_id)
        return len(deleted)
