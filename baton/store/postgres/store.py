"""The store on a PostgreSQL database, shared by any number of processes: its parts put together."""

from __future__ import annotations

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
from baton.store.postgres.connection import _rowcount, _translated
from baton.store.postgres.decisions import PostgresDecisions
from baton.store.postgres.queries import (
    DELETE_SIGNAL,
    DELETE_TASK_DEF,
    DELETE_WORKFLOW_DEF,
    INSERT_TASK_DEF_NEW,
    INSERT_TASK_LOGS,
    INSERT_WORKFLOW_DEF_NEW,
    SELECT_ALL_TASK_DEFS,
    SELECT_ALL_WORKFLOW_DEFS,
    SELECT_LATEST_WORKFLOW_DEF,
    SELECT_SIGNALS_BEFORE,
    SELECT_TASK_DEFS,
    SELECT_TASK_EXISTS,
    SELECT_TASK_LOGS,
    SELECT_WORKFLOW_DEF,
    SELECT_WORKFLOW_DEFS_OF,
    UPSERT_TASK_DEF,
    UPSERT_WORKFLOW_DEF,
)
from baton.store.postgres.reads import PostgresReads
from baton.store.postgres.starts import PostgresStarts
from baton.store.roles import Store


class PostgresStore(PostgresStarts, PostgresDecisions, PostgresReads, Store):
    """The store on a PostgreSQL database, shared by any number of processes."""

    # -- definitions ---------------------------------------------------------------

    async def put_workflow_defs(self, defs: list[WorkflowDef], *, overwrite: bool) -> None:
        rows = [plans.workflow_def_row(d) for d in defs]
        with _translated("store workflow definitions"):
            async with self._connection() as conn, conn.transaction():
                if overwrite:
                    await conn.executemany(UPSERT_WORKFLOW_DEF, rows)
                    return
                for definition, row in zip(defs, rows, strict=True):
                    if _rowcount(await conn.execute(INSERT_WORKFLOW_DEF_NEW, *row)) == 0:
                        raise ConflictError(
                            f"Workflow definition {definition.name} version {definition.version} already exists"
                        )

    async def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef | None:
        if version is None:
            row = await self._fetchone("read a workflow definition", SELECT_LATEST_WORKFLOW_DEF, name)
        else:
            row = await self._fetchone("read a workflow definition", SELECT_WORKFLOW_DEF, name, version)
        return None if row is None else codec.decode_workflow_def(row[0])

    async def list_workflow_defs(self, name: str | None = None) -> list[WorkflowDef]:
        if name is None:
            rows = await self._fetchall("list workflow definitions", SELECT_ALL_WORKFLOW_DEFS)
        else:
            rows = await self._fetchall("list workflow definitions", SELECT_WORKFLOW_DEFS_OF, name)
        return [codec.decode_workflow_def(body) for (body,) in rows]

    async def delete_workflow_def(self, name: str, version: int) -> bool:
        return await self._rowcount("delete a workflow definition", DELETE_WORKFLOW_DEF, name, version) > 0

    async def put_task_defs(self, defs: list[TaskDef], *, overwrite: bool = True) -> None:
        rows = [plans.task_def_row(d) for d in defs]
        with _translated("store task definitions"):
            async with self._connection() as conn, conn.transaction():
                if overwrite:
                    await conn.executemany(UPSERT_TASK_DEF, rows)
                    return
                for definition, row in zip(defs, rows, strict=True):
                    if _rowcount(await conn.execute(INSERT_TASK_DEF_NEW, *row)) == 0:
                        raise ConflictError(f"Task definition {definition.name} already exists")

    async def get_task_defs(self, names: Collection[str]) -> dict[str, TaskDef]:
        if not names:
            return {}
        rows = await self._fetchall("read task definitions", SELECT_TASK_DEFS, list(names))
        found = [codec.decode_task_def(body) for (body,) in rows]
        return {d.name: d for d in found}

    async def list_task_defs(self) -> list[TaskDef]:
        rows = await self._fetchall("list task definitions", SELECT_ALL_TASK_DEFS)
        return [codec.decode_task_def(body) for (body,) in rows]

    async def delete_task_def(self, name: str) -> bool:
        return await self._rowcount("delete a task definition", DELETE_TASK_DEF, name) > 0

    # -- runs ----------------------------------------------------------------------

    # -- task logs -------------------------------------------------------------------

    async def add_task_logs(self, task_id: str, logs: Sequence[TaskExecLog]) -> bool:
        if not logs:
            return await self._fetchone("read a task", SELECT_TASK_EXISTS, task_id) is not None
        times = [log.created_time for log in logs]
        lines = [codec.encode_log_line(log.log) for log in logs]
        return await self._rowcount("add task logs", INSERT_TASK_LOGS, task_id, times, lines) > 0

    async def get_task_logs(self, task_id: str) -> list[TaskExecLog] | None:
        rows = await self._fetchall("read task logs", SELECT_TASK_LOGS, task_id)
        return codec.task_logs_of(task_id, rows)

    # -- the outbox --------------------------------------------------------------------

    async def signals_created_before(self, created_before: int, limit: int) -> list[Signal]:
        rows = await self._fetchall("read the outbox", SELECT_SIGNALS_BEFORE, created_before, limit)
        return [codec.decode_signal(body) for (body,) in rows]

    async def delete_signal(self, signal_id: str) -> None:
        await self._rowcount("delete a signal", DELETE_SIGNAL, signal_id)

    # -- search and retention --------------------------------------------------------

    async def _search(self, statements: search_sql.SearchStatements, request: SearchRequest) -> tuple[int, list[str]]:
        with _translated("search"):
            async with self._connection() as conn:
                rows = await conn.fetch(statements.page.sql, *statements.page.params)
                counted = None
                if not search_sql.page_is_last(request.start, request.size, len(rows)):
                    counted = int(await conn.fetchval(statements.count.sql, *statements.count.params))
        bodies = [body for (body,) in rows]
        return search_sql.total_hits(request.start, request.size, len(bodies), counted), bodies

    async def search_runs(self, request: SearchRequest) -> RunPage:
        total, bodies = await self._search(search_sql.search_runs(search_sql.Dialect.POSTGRES, request), request)
        return RunPage(total_hits=total, results=[codec.decode_run(body) for body in bodies])

    async def search_tasks(self, request: SearchRequest) -> TaskPage:
        total, bodies = await self._search(search_sql.search_tasks(search_sql.Dialect.POSTGRES, request), request)
        return TaskPage(total_hits=total, results=[codec.decode_task(body) for body in bodies])

    async def running_run_ids(
        self, name: str, *, version: int | None, start_from: int | None, start_to: int | None
    ) -> list[str]:
        statement = search_sql.running_run_ids(
            search_sql.Dialect.POSTGRES, name, version=version, start_from=start_from, start_to=start_to
        )
        rows = await self._fetchall("list running runs", statement.sql, *statement.params)
        return [workflow_id for (workflow_id,) in rows]

    async def delete_finished_before(self, cutoff: int, limit: int) -> int:
        statement = search_sql.delete_finished_before(search_sql.Dialect.POSTGRES, cutoff, limit)
        rows = await self._fetchall("delete finished runs", statement.sql + " RETURNING workflow_id", *statement.params)
        for (workflow_id,) in rows:
            self._known.forget(workflow_id)
        return len(rows)
