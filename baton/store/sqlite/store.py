"""The store on one SQLite file: its parts put together.

The hot path is SQLite's own (``decisions``, ``claims``, ``reads``, in the commit group); definitions, task logs,
poll data, the outbox's reads, search and retention are the code written once for both stores (``store/common``), run on
``database.SqliteDatabase``.
"""

from __future__ import annotations

import json

from baton.store.common.access import AccessRecords
from baton.store.common.activity import Activity
from baton.store.common.audit import AuditLog
from baton.store.common.cases import Cases
from baton.store.common.definitions import Definitions
from baton.store.common.event_handlers import EventHandlers
from baton.store.common.outbox import Outbox
from baton.store.common.poll_data import PollRecords
from baton.store.common.searches import Searches
from baton.store.common.secrets import Secrets
from baton.store.common.task_logs import TaskLogs
from baton.store.common.waits import Waits
from baton.store.common.webhooks import Webhooks
from baton.store.roles import Store
from baton.store.sqlite.commits import acknowledged_after_commit
from baton.store.sqlite.connection import _DELETE_CHUNK
from baton.store.sqlite.decisions import SqliteDecisions
from baton.store.sqlite.queries import (
    DELETE_RUN,
    DELETE_TASKS_BY_ID,
    SELECT_TASK_IDS_OF_RUN,
)
from baton.store.sqlite.reads import SqliteReads


class SqliteStore(
    SqliteDecisions,
    SqliteReads,
    Definitions,
    TaskLogs,
    Outbox,
    Searches,
    EventHandlers,
    PollRecords,
    Secrets,
    Waits,
    Cases,
    Webhooks,
    AccessRecords,
    AuditLog,
    Activity,
    Store,
):
    """The store on one SQLite file (``:memory:`` for a private in-memory database)."""

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
