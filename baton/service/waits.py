"""Steps that wait for the outside world, and the triggers that start runs from it.

``deliver_event`` is how an event reaches runs on every surface (Elsa's event
trigger, Ballerine's run events): each WAIT or HUMAN step waiting for that name
completes with the event's payload as its output, through the same use case as
a worker's result.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from baton.engine.events import MergeVariables
from baton.errors import ConflictError, NotFoundError
from baton.model import TaskResult, TaskResultStatus
from baton.model.triggers import EVENT_WAITING_TYPES, Trigger, waited_event
from baton.service.context import ServiceContext
from baton.service.tasks import TaskService
from baton.store import WaitingTask

MAX_DELIVERIES = 1000
"""Most steps one event completes; more waiting on one name are left for the next event."""


class WaitService:
    def __init__(self, ctx: ServiceContext, tasks: TaskService) -> None:
        self._ctx = ctx
        self._tasks = tasks

    async def triggers(self, kind: str, key: str | None = None) -> list[Trigger]:
        return await self._ctx.store.triggers(kind, key)

    async def waiting(
        self, task_types: Collection[str], *, workflow_id: str | None = None, correlation_id: str | None = None
    ) -> list[WaitingTask]:
        return await self._ctx.store.waiting_tasks(
            task_types, workflow_id=workflow_id, correlation_id=correlation_id, limit=MAX_DELIVERIES
        )

    async def waited_events(self, workflow_id: str) -> list[WaitingTask]:
        """The WAIT and HUMAN steps one run waits on (``waited_event(step.input_data, ref)`` names each's event)."""
        return await self.waiting(EVENT_WAITING_TYPES, workflow_id=workflow_id)

    async def deliver_event(
        self,
        name: str,
        payload: dict[str, Any],
        *,
        workflow_id: str | None = None,
        correlation_id: str | None = None,
        merge_variables: MergeVariables | None = None,
    ) -> list[WaitingTask]:
        """Complete every WAIT or HUMAN step waiting for event ``name`` (of that run or correlation id only, when
        given) with ``payload`` as its output; returns the steps it completed.

        ``merge_variables`` changes each run's variables in the decision that completes its first step (one
        write: two events at once cannot lose each other's change, nor a crash split the step from its change).
        A step that ends meanwhile (its timer, another event, an operator) is skipped, not an error.
        """
        waiting = await self.waiting(EVENT_WAITING_TYPES, workflow_id=workflow_id, correlation_id=correlation_id)
        completed = []
        merged: set[str] = set()
        for step in waiting:
            if waited_event(step.input_data, step.reference_task_name) != name:
                continue
            result = TaskResult(
                workflow_instance_id=step.workflow_id,
                task_id=step.task_id,
                status=TaskResultStatus.COMPLETED,
                output_data=dict(payload),
            )
            merge = merge_variables if step.workflow_id not in merged else None
            try:
                _, applied = await self._tasks.report(result, merge_variables=merge)
            except (ConflictError, NotFoundError):
                continue
            if applied:
                completed.append(step)
                merged.add(step.workflow_id)
        return completed
