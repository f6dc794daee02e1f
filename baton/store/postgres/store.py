"""The store on a PostgreSQL database, shared by any number of processes: its parts put together.

The hot path is PostgreSQL's own (``starts``, ``decisions``, ``claims``, ``reads``); definitions, task logs, the
outbox's reads, search and retention are the code written once for both stores (``store/common``), run on
``database.PostgresDatabase``.
"""

from __future__ import annotations

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
from baton.store.postgres.decisions import PostgresDecisions
from baton.store.postgres.reads import PostgresReads
from baton.store.postgres.starts import PostgresStarts
from baton.store.roles import Store


class PostgresStore(
    PostgresStarts,
    PostgresDecisions,
    PostgresReads,
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
    """The store on a PostgreSQL database, shared by any number of processes."""

    def _forget_run(self, workflow_id: str) -> None:
        self._known.forget(workflow_id)
