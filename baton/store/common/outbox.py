"""The outbox as the relay reads it, written once for both stores (a decision writes its signals with its rows)."""

from __future__ import annotations

from baton.engine.decision import Signal
from baton.store.common import codec
from baton.store.common.database import Database
from baton.store.common.dialect import per_dialect

SELECT_SIGNALS_BEFORE = per_dialect("SELECT body FROM outbox WHERE created_at < $1 ORDER BY created_at LIMIT $2")
DELETE_SIGNAL = per_dialect("DELETE FROM outbox WHERE signal_id = $1")


class Outbox:
    """``OutboxStore`` over the store's ``Database``."""

    _db: Database

    async def signals_created_before(self, created_before: int, limit: int) -> list[Signal]:
        async with self._db.read("read the outbox") as tx:
            rows = await tx.fetchall(SELECT_SIGNALS_BEFORE[self._db.dialect], created_before, limit)
        return [codec.decode_signal(body) for (body,) in rows]

    async def delete_signal(self, signal_id: str) -> None:
        async with self._db.write_one("delete a signal") as tx:
            await tx.execute(DELETE_SIGNAL[self._db.dialect], signal_id)
