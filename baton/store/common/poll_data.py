"""Workers' last polls, written once for both stores: one row per (task type, domain, worker)."""

from __future__ import annotations

from collections.abc import Sequence

from baton.model import PollData
from baton.store.common.database import Database
from baton.store.common.dialect import Dialect, per_dialect

_NONE = ""
"""What the key columns hold for no domain or no worker id (a primary key column cannot be NULL)."""


def _upsert(dialect: Dialect) -> str:
    later = "GREATEST" if dialect is Dialect.POSTGRES else "MAX"
    return f"""
INSERT INTO poll_data (queue_name, domain, worker_id, last_poll_time) VALUES ($1, $2, $3, $4)
ON CONFLICT (queue_name, domain, worker_id)
DO UPDATE SET last_poll_time = {later}(poll_data.last_poll_time, excluded.last_poll_time)"""


UPSERT_POLL = per_dialect(_upsert)
"""A row only moves forward: a server whose batch is late never writes an older time over a newer one."""
SELECT_POLLS = per_dialect("""
SELECT queue_name, domain, worker_id, last_poll_time FROM poll_data WHERE queue_name = $1
ORDER BY domain, worker_id""")
SELECT_ALL_POLLS = per_dialect("""
SELECT queue_name, domain, worker_id, last_poll_time FROM poll_data ORDER BY queue_name, domain, worker_id""")


class PollRecords:
    """``PollDataStore`` over the store's ``Database``."""

    _db: Database

    async def record_polls(self, polls: Sequence[PollData]) -> None:
        if not polls:
            return
        rows = [(p.queue_name, p.domain or _NONE, p.worker_id or _NONE, p.last_poll_time) for p in polls]
        async with self._db.write("record polls") as tx:
            await tx.executemany(UPSERT_POLL[self._db.dialect], rows)

    async def poll_data(self, task_type: str | None = None) -> list[PollData]:
        async with self._db.read("read poll data") as tx:
            if task_type is None:
                rows = await tx.fetchall(SELECT_ALL_POLLS[self._db.dialect])
            else:
                rows = await tx.fetchall(SELECT_POLLS[self._db.dialect], task_type)
        return [
            PollData(queue_name=queue, domain=domain or None, worker_id=worker or None, last_poll_time=at)
            for queue, domain, worker, at in rows
        ]
