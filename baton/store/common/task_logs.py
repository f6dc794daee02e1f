"""Tasks' log lines, written once for both stores (a decision's own lines go with its rows, per store)."""

from __future__ import annotations

from collections.abc import Sequence

from baton.model import TaskExecLog
from baton.store.common import codec
from baton.store.common.database import Database
from baton.store.common.dialect import per_dialect

SELECT_TASK_EXISTS = per_dialect("SELECT 1 FROM tasks WHERE task_id = $1")
INSERT_TASK_LOG = per_dialect("INSERT INTO task_logs (task_id, created_time, log) VALUES ($1, $2, $3)")
SELECT_TASK_LOGS = per_dialect("""
SELECT l.log, l.created_time FROM tasks t LEFT JOIN task_logs l ON l.task_id = t.task_id
WHERE t.task_id = $1 ORDER BY l.id""")
"""No row: no such task; one row of NULLs: a task without log lines."""


class TaskLogs:
    """``TaskLogStore`` over the store's ``Database``."""

    _db: Database

    async def add_task_logs(self, task_id: str, logs: Sequence[TaskExecLog]) -> bool:
        rows = [(task_id, log.created_time, codec.encode_log_line(log.log)) for log in logs]
        dialect = self._db.dialect
        async with self._db.write("add task logs") as tx:
            if await tx.fetchone(SELECT_TASK_EXISTS[dialect], task_id) is None:
                return False
            if rows:
                await tx.executemany(INSERT_TASK_LOG[dialect], rows)
        return True

    async def get_task_logs(self, task_id: str) -> list[TaskExecLog] | None:
        async with self._db.read("read task logs") as tx:
            rows = await tx.fetchall(SELECT_TASK_LOGS[self._db.dialect], task_id)
        return codec.task_logs_of(task_id, rows)
