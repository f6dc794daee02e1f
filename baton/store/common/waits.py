"""Triggers and waiting steps, written once for both stores.

``replace_triggers`` keeps the ``triggers`` table equal to what each workflow
name's latest version declares; the definition writes call it in their own
transaction. ``Waits`` reads the triggers and the steps that wait for an event,
a person or a request.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from baton.errors import ConflictError
from baton.model.triggers import HTTP_KIND, Trigger, triggers_of
from baton.store.base import WaitingTask
from baton.store.common import codec
from baton.store.common.database import Database, Executor
from baton.store.common.dialect import Dialect, per_dialect

WAITING_TYPES = ("WAIT", "HUMAN", "HTTP_ENDPOINT")
"""The types the ``tasks_waiting`` index covers (migration 0013): a query names them literally to use it."""

_LATEST_BODY = per_dialect("SELECT body FROM workflow_defs WHERE name = $1 ORDER BY version DESC LIMIT 1")
_DELETE_TRIGGERS_OF = per_dialect("DELETE FROM triggers WHERE workflow_name = $1")
_INSERT_TRIGGER = per_dialect("""
INSERT INTO triggers (kind, shape, method, workflow_name, key, workflow_version, task_ref)
VALUES ($1, $2, $3, $4, $5, $6, $7)""")
_CLAIMED_ELSEWHERE = per_dialect("""
SELECT workflow_name FROM triggers WHERE kind = $1 AND shape = $2 AND method = $3 AND workflow_name <> $4 LIMIT 1""")
_TRIGGER_COLUMNS = "kind, key, method, workflow_name, workflow_version, task_ref"
_SELECT_TRIGGERS = per_dialect(
    f"SELECT {_TRIGGER_COLUMNS} FROM triggers WHERE kind = $1 ORDER BY shape, method, workflow_name"
)
_SELECT_TRIGGERS_BY_KEY = per_dialect(
    f"SELECT {_TRIGGER_COLUMNS} FROM triggers WHERE kind = $1 AND key = $2 ORDER BY shape, method, workflow_name"
)


def _waiting(dialect: Dialect) -> str:
    listed = ", ".join(f"'{task_type}'" for task_type in WAITING_TYPES)
    text = "::text" if dialect is Dialect.POSTGRES else ""
    return f"""
SELECT t.body, r.workflow_id, r.name, r.correlation_id
FROM tasks t JOIN runs r ON r.workflow_id = t.workflow_id
WHERE t.status = 'IN_PROGRESS' AND t.task_type IN ({listed}) AND t.task_type {dialect.one_of("$1", "text")}
  AND r.status = 'RUNNING'
  AND ($2{text} IS NULL OR t.workflow_id = $2) AND ($3{text} IS NULL OR r.correlation_id = $3)
ORDER BY r.create_time, r.workflow_id, t.seq
LIMIT $4"""


_SELECT_WAITING = per_dialect(_waiting)


async def replace_triggers(tx: Executor, dialect: Dialect, names: Iterable[str]) -> None:
    """Rewrite the triggers of each workflow name from its latest stored version, inside the caller's transaction.

    ConflictError (naming the other definition) when an http trigger's path and method belong to another name.
    """
    for name in sorted(set(names)):
        await tx.execute(_DELETE_TRIGGERS_OF[dialect], name)
        row = await tx.fetchone(_LATEST_BODY[dialect], name)
        if row is None:
            continue
        for trigger in triggers_of(codec.decode_workflow_def(row[0])):
            if trigger.kind == HTTP_KIND:
                other = await tx.fetchone(
                    _CLAIMED_ELSEWHERE[dialect], trigger.kind, trigger.shape, trigger.method, trigger.workflow_name
                )
                if other is not None:
                    raise ConflictError(
                        f"Workflow {other[0]} already starts on {trigger.method} /{trigger.key}: "
                        f"a path and method can start one workflow only"
                    )
            await tx.execute(
                _INSERT_TRIGGER[dialect],
                trigger.kind,
                trigger.shape,
                trigger.method,
                trigger.workflow_name,
                trigger.key,
                trigger.workflow_version,
                trigger.task_ref,
            )


class Waits:
    """``WaitStore`` over the store's ``Database``."""

    _db: Database

    async def triggers(self, kind: str, key: str | None = None) -> list[Trigger]:
        dialect = self._db.dialect
        async with self._db.read("read triggers") as tx:
            if key is None:
                rows = await tx.fetchall(_SELECT_TRIGGERS[dialect], kind)
            else:
                rows = await tx.fetchall(_SELECT_TRIGGERS_BY_KEY[dialect], kind, key)
        return [Trigger(*row) for row in rows]

    async def waiting_tasks(
        self,
        task_types: Collection[str],
        *,
        workflow_id: str | None = None,
        correlation_id: str | None = None,
        limit: int = 1000,
    ) -> list[WaitingTask]:
        dialect = self._db.dialect
        async with self._db.read("read waiting steps") as tx:
            rows = await tx.fetchall(
                _SELECT_WAITING[dialect], dialect.list_value(task_types), workflow_id, correlation_id, limit
            )
        found = []
        for body, run_id, name, correlation in rows:
            task = codec.decode_task(body)
            found.append(
                WaitingTask(
                    workflow_id=run_id,
                    workflow_name=name,
                    correlation_id=correlation,
                    task_id=task.task_id,
                    reference_task_name=task.reference_task_name,
                    task_type=task.task_type,
                    input_data=task.input_data,
                    scheduled_time=task.scheduled_time,
                )
            )
        return found
