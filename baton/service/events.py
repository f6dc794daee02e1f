"""Event handlers (``/api/event``): registering, reading and removing them, and publishing an EVENT task's event.

An EVENT task whose sink is ``conductor`` or ``conductor:<name>`` publishes through
``publish``: the task's result and the event are one decision, so the event is in
the outbox (``engine.SignalKind.EVENT_PUBLISHED``) exactly when the task has ended,
and ``service.event_actions`` acts on it after the commit, or the relay does
after a crash.
"""

from __future__ import annotations

from typing import Any

from baton.engine import EventPublished
from baton.errors import NotFoundError
from baton.model import Task, TaskResult, TaskResultStatus
from baton.model.event_validation import validate_event_handler
from baton.model.events import EventHandler
from baton.service.context import ServiceContext
from baton.service.search import DAY_MS
from baton.store import EventHandlerStore


class EventHandlerService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._store: EventHandlerStore = ctx.store

    async def create(self, handler: EventHandler) -> None:
        """Store a new handler; ConflictError when its name is taken."""
        validate_event_handler(handler)
        await self._store.create_event_handler(handler)

    async def update(self, handler: EventHandler) -> None:
        validate_event_handler(handler)
        if not await self._store.update_event_handler(handler):
            raise NotFoundError(_not_found(handler.name))

    async def list_all(self, *, active_only: bool = False) -> list[EventHandler]:
        return await self._store.list_event_handlers(active_only=active_only)

    async def for_event(self, event: str, *, active_only: bool = True) -> list[EventHandler]:
        return await self._store.list_event_handlers(event, active_only=active_only)

    async def delete(self, name: str) -> None:
        if not await self._store.delete_event_handler(name):
            raise NotFoundError(_not_found(name))

    async def forget_executions(self, retention_days: float, *, batch: int) -> int:
        """One batch of retention: executions recorded more than ``retention_days`` ago; returns how many went."""
        cutoff = self._ctx.clock() - int(retention_days * DAY_MS)
        return await self._store.delete_event_executions_before(cutoff, batch)

    async def publish(
        self, task: Task, status: TaskResultStatus, event: str, payload: dict[str, Any], *, worker_id: str
    ) -> None:
        """End an EVENT task (``status``: COMPLETED, or IN_PROGRESS with ``asyncComplete``) having published
        ``payload`` as ``event``, in one decision. The task's output is the payload and ``event_produced``."""
        result = TaskResult(
            task_id=task.task_id,
            workflow_instance_id=task.workflow_instance_id,
            status=status,
            output_data={**payload, "event_produced": event},
            worker_id=worker_id,
        )
        await self._ctx.apply_event(
            task.workflow_instance_id, EventPublished(result=result, event=event, payload=payload)
        )


def _not_found(name: str) -> str:
    return f"EventHandler with name {name} not found!"
