"""Event handlers and the record of what they did with each published event, written once for both stores."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from baton.errors import ConflictError
from baton.model.events import EventExecution, EventHandler
from baton.store.common import codec
from baton.store.common.database import Database
from baton.store.common.dialect import per_dialect

INSERT_HANDLER = per_dialect("""
INSERT INTO event_handlers (name, event, active, body) VALUES ($1, $2, $3, $4)
ON CONFLICT (name) DO NOTHING""")
UPDATE_HANDLER = per_dialect("UPDATE event_handlers SET event = $2, active = $3, body = $4 WHERE name = $1")
SELECT_HANDLERS = per_dialect("SELECT body FROM event_handlers ORDER BY name")
SELECT_ACTIVE_HANDLERS = per_dialect("SELECT body FROM event_handlers WHERE active ORDER BY name")
SELECT_HANDLERS_OF = per_dialect("SELECT body FROM event_handlers WHERE event = $1 ORDER BY name")
SELECT_ACTIVE_HANDLERS_OF = per_dialect("SELECT body FROM event_handlers WHERE event = $1 AND active ORDER BY name")
DELETE_HANDLER = per_dialect("DELETE FROM event_handlers WHERE name = $1")

INSERT_EXECUTION = per_dialect("""
INSERT INTO event_executions (execution_id, message_id, created_at, body) VALUES ($1, $2, $3, $4)
ON CONFLICT (execution_id) DO NOTHING""")
DELETE_EXECUTIONS_BEFORE = per_dialect("""
DELETE FROM event_executions WHERE execution_id IN (
    SELECT execution_id FROM event_executions WHERE created_at < $1 ORDER BY created_at LIMIT $2
)""")
SELECT_EXECUTIONS_OF = per_dialect("SELECT body FROM event_executions WHERE message_id = $1 ORDER BY execution_id")

_handler_decoder = msgspec.json.Decoder(EventHandler)
_execution_decoder = msgspec.json.Decoder(EventExecution)


class EventHandlers:
    """``EventHandlerStore`` over the store's ``Database``."""

    _db: Database

    async def create_event_handler(self, handler: EventHandler) -> None:
        async with self._db.write_one("store an event handler") as tx:
            if await tx.execute(INSERT_HANDLER[self._db.dialect], *_row(handler)) == 0:
                raise ConflictError(f"EventHandler with name {handler.name} already exists!")

    async def update_event_handler(self, handler: EventHandler) -> bool:
        async with self._db.write_one("update an event handler") as tx:
            return await tx.execute(UPDATE_HANDLER[self._db.dialect], *_row(handler)) > 0

    async def list_event_handlers(self, event: str | None = None, *, active_only: bool = False) -> list[EventHandler]:
        dialect = self._db.dialect
        async with self._db.read("list event handlers") as tx:
            if event is None:
                rows = await tx.fetchall((SELECT_ACTIVE_HANDLERS if active_only else SELECT_HANDLERS)[dialect])
            else:
                statement = SELECT_ACTIVE_HANDLERS_OF if active_only else SELECT_HANDLERS_OF
                rows = await tx.fetchall(statement[dialect], event)
        return [_handler_decoder.decode(body) for (body,) in rows]

    async def delete_event_handler(self, name: str) -> bool:
        async with self._db.write_one("delete an event handler") as tx:
            return await tx.execute(DELETE_HANDLER[self._db.dialect], name) > 0

    async def add_event_executions(self, executions: Sequence[EventExecution]) -> None:
        if not executions:
            return
        rows = [(e.id, e.message_id, e.created, codec.encode(e)) for e in executions]
        async with self._db.write("record event executions") as tx:
            await tx.executemany(INSERT_EXECUTION[self._db.dialect], rows)

    async def event_executions(self, message_id: str) -> list[EventExecution]:
        async with self._db.read("read event executions") as tx:
            rows = await tx.fetchall(SELECT_EXECUTIONS_OF[self._db.dialect], message_id)
        return [_execution_decoder.decode(body) for (body,) in rows]

    async def delete_event_executions_before(self, cutoff: int, limit: int) -> int:
        async with self._db.write_one("delete old event executions") as tx:
            return await tx.execute(DELETE_EXECUTIONS_BEFORE[self._db.dialect], cutoff, limit)


def _row(handler: EventHandler) -> tuple[str, str, bool, str]:
    return handler.name, handler.event, handler.active, codec.encode(handler)
