"""Registered workflow and task definitions, written once for both stores."""

from __future__ import annotations

from collections.abc import Collection

from baton.errors import ConflictError, workflow_def_exists_message
from baton.model import TaskDef, WorkflowDef
from baton.store.common import codec, plans
from baton.store.common.database import Database
from baton.store.common.dialect import Dialect, per_dialect
from baton.store.common.waits import replace_triggers

INSERT_WORKFLOW_DEF_NEW = per_dialect("""
INSERT INTO workflow_defs (name, version, create_time, body) VALUES ($1, $2, $3, $4)
ON CONFLICT (name, version) DO NOTHING""")
UPSERT_WORKFLOW_DEF = per_dialect("""
INSERT INTO workflow_defs (name, version, create_time, body) VALUES ($1, $2, $3, $4)
ON CONFLICT (name, version) DO UPDATE SET create_time = excluded.create_time, body = excluded.body""")
SELECT_WORKFLOW_DEF = per_dialect("SELECT body FROM workflow_defs WHERE name = $1 AND version = $2")
SELECT_LATEST_WORKFLOW_DEF = per_dialect("SELECT body FROM workflow_defs WHERE name = $1 ORDER BY version DESC LIMIT 1")
SELECT_ALL_WORKFLOW_DEFS = per_dialect("SELECT body FROM workflow_defs ORDER BY name, version")
SELECT_WORKFLOW_DEFS_OF = per_dialect("SELECT body FROM workflow_defs WHERE name = $1 ORDER BY version")
DELETE_WORKFLOW_DEF = per_dialect("DELETE FROM workflow_defs WHERE name = $1 AND version = $2")

INSERT_TASK_DEF_NEW = per_dialect("INSERT INTO task_defs (name, body) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
UPSERT_TASK_DEF = per_dialect("""
INSERT INTO task_defs (name, body) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET body = excluded.body""")
SELECT_TASK_DEFS = per_dialect(lambda d: f"SELECT body FROM task_defs WHERE name {d.one_of('$1', 'text')}")
SELECT_ALL_TASK_DEFS = per_dialect("SELECT body FROM task_defs ORDER BY name")
DELETE_TASK_DEF = per_dialect("DELETE FROM task_defs WHERE name = $1")


class Definitions:
    """``DefinitionStore`` over the store's ``Database``."""

    _db: Database

    async def put_workflow_defs(self, defs: list[WorkflowDef], *, overwrite: bool) -> None:
        await self._put(
            "store workflow definitions",
            [plans.workflow_def_row(d) for d in defs],
            UPSERT_WORKFLOW_DEF if overwrite else INSERT_WORKFLOW_DEF_NEW,
            None if overwrite else [workflow_def_exists_message(d.name, d.version) for d in defs],
            trigger_names=[d.name for d in defs],
        )

    async def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef | None:
        dialect = self._db.dialect
        async with self._db.read("read a workflow definition") as tx:
            if version is None:
                row = await tx.fetchone(SELECT_LATEST_WORKFLOW_DEF[dialect], name)
            else:
                row = await tx.fetchone(SELECT_WORKFLOW_DEF[dialect], name, version)
        return None if row is None else codec.decode_workflow_def(row[0])

    async def list_workflow_defs(self, name: str | None = None) -> list[WorkflowDef]:
        dialect = self._db.dialect
        async with self._db.read("list workflow definitions") as tx:
            if name is None:
                rows = await tx.fetchall(SELECT_ALL_WORKFLOW_DEFS[dialect])
            else:
                rows = await tx.fetchall(SELECT_WORKFLOW_DEFS_OF[dialect], name)
        return [codec.decode_workflow_def(body) for (body,) in rows]

    async def delete_workflow_def(self, name: str, version: int) -> bool:
        async with self._db.write("delete a workflow definition") as tx:
            deleted = await tx.execute(DELETE_WORKFLOW_DEF[self._db.dialect], name, version) > 0
            if deleted:
                await replace_triggers(tx, self._db.dialect, [name])
            return deleted

    async def put_task_defs(self, defs: list[TaskDef], *, overwrite: bool = True) -> None:
        await self._put(
            "store task definitions",
            [plans.task_def_row(d) for d in defs],
            UPSERT_TASK_DEF if overwrite else INSERT_TASK_DEF_NEW,
            None if overwrite else [f"Task definition {d.name} already exists" for d in defs],
        )

    async def get_task_defs(self, names: Collection[str]) -> dict[str, TaskDef]:
        if not names:
            return {}
        dialect = self._db.dialect
        async with self._db.read("read task definitions") as tx:
            rows = await tx.fetchall(SELECT_TASK_DEFS[dialect], dialect.list_value(names))
        found = [codec.decode_task_def(body) for (body,) in rows]
        return {d.name: d for d in found}

    async def list_task_defs(self) -> list[TaskDef]:
        async with self._db.read("list task definitions") as tx:
            rows = await tx.fetchall(SELECT_ALL_TASK_DEFS[self._db.dialect])
        return [codec.decode_task_def(body) for (body,) in rows]

    async def delete_task_def(self, name: str) -> bool:
        async with self._db.write_one("delete a task definition") as tx:
            return await tx.execute(DELETE_TASK_DEF[self._db.dialect], name) > 0

    async def _put(
        self,
        action: str,
        rows: list[plans.Row],
        statement: dict[Dialect, str],
        conflicts: list[str] | None,
        *,
        trigger_names: Collection[str] = (),
    ) -> None:
        """Write ``rows`` in one transaction. ``conflicts``: the statement inserts only new rows, and a row it
        did not insert is a ConflictError with its message (none are stored then); None: it upserts them.
        The triggers of ``trigger_names`` are rewritten in the same transaction."""
        async with self._db.write(action) as tx:
            if conflicts is None:
                await tx.executemany(statement[self._db.dialect], rows)
            else:
                for row, conflict in zip(rows, conflicts, strict=True):
                    if await tx.execute(statement[self._db.dialect], *row) == 0:
                        raise ConflictError(conflict)
            await replace_triggers(tx, self._db.dialect, trigger_names)
