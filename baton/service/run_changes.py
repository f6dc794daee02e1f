"""What a watched run shows, told when it changes: ``workflow.state.changed`` and
``workflow.context.document.changed``, durable, whatever changed the run (a route, a worker, a timer).

A decision on a watched run that may change its state or context writes RUN_CHANGED in its own transaction
(``engine/run_changes.py``); acting on it, and on RUN_ENDED before the end is recorded, reads the run, computes
its state (``entities.state_of``) and its documents' decisions, and compares them with what was last told
(``webhook_run_states``). What differs is recorded as events together with what is now told, in one transaction
over the version read: a signal acted on twice, or two checks at once, record a change once, and the check that
lost the race reads again, so a run's events follow its changes in order (documents, then the state, then
``workflow.completed``). A check tells the run as it is when acted on: two changes in quick succession may be
told as one. A run's starting point is recorded when it is subscribed, so its first state is not a change; a
run with nothing recorded (a server-wide subscription watching runs started elsewhere) tells its first state.
"""

from __future__ import annotations

import logging
from typing import Any, Final

from baton.engine import Signal
from baton.model import Workflow
from baton.model.webhooks import WORKFLOW_DOCUMENT_CHANGED, WORKFLOW_STATE_CHANGED
from baton.service.context import ServiceContext
from baton.service.entities import context_of, state_of
from baton.service.entity_context import document_statuses
from baton.service.webhook_events import deliveries_for, iso_time, subscribers_of

log = logging.getLogger(__name__)

_ATTEMPTS: Final = 8
"""Checks of one run that may lose the race to record (to another check of the same run) before giving up."""


class RunChanges:
    def __init__(self, ctx: ServiceContext, wake_key: str) -> None:
        self._ctx = ctx
        self._wake_key = wake_key

    async def starting_point(self, run: Workflow) -> None:
        """Record what ``run`` (as its first decision left it) shows, unless something is recorded already."""
        definition = await self._ctx.store.get_run_definition(run.workflow_id)
        documents = document_statuses(context_of(run))
        await self._ctx.store.record_told_state(
            run.workflow_id, version=0, state=state_of(definition, run), documents=documents, now=self._ctx.clock()
        )

    async def handle(self, signal: Signal) -> None:
        """Act on a RUN_CHANGED signal: the run checked, the signal gone."""
        await self.check(signal.target_workflow_id)
        await self._ctx.store.delete_signal(signal.signal_id)

    async def check(self, workflow_id: str) -> None:
        """Record what changed in what the run shows since it was last told, for the subscribers that want it."""
        store = self._ctx.store
        for _ in range(_ATTEMPTS):
            told = await store.told_state(workflow_id)
            run = await store.get_run(workflow_id, include_tasks=True)
            if run is None:
                return
            definition = await store.get_run_definition(workflow_id)
            state = state_of(definition, run)
            context = context_of(run)
            documents = document_statuses(context)
            version = 0 if told is None else told.version
            events: list[tuple[str, dict[str, Any]]] = []
            if documents != ({} if told is None else told.documents):
                events.append((WORKFLOW_DOCUMENT_CHANGED, await self._assignee(workflow_id)))
            if told is None or state != told.state:
                events.append((WORKFLOW_STATE_CHANGED, {"state": state}))
            if not events:
                return
            subscribers = subscribers_of(await store.run_subscriptions(workflow_id), await store.list_webhooks())
            now = self._ctx.clock()
            deliveries = [
                delivery
                for event_name, extra in events
                for delivery in deliveries_for(
                    subscribers,
                    run=run,
                    event_name=event_name,
                    data=context,
                    event_key=f"{workflow_id}:{event_name}:{version + 1}",
                    extra=extra,
                    now=now,
                    settings=self._ctx.settings,
                    new_id=self._ctx.new_id,
                )
            ]
            if not deliveries:
                return  # nobody wants to hear it: nothing to record
            if await store.record_told_state(
                workflow_id, version=version, state=state, documents=documents, now=now, deliveries=deliveries
            ):
                self._ctx.notifier.publish([self._wake_key])
                return
        log.warning("run %s kept changing while its webhooks were told; its next change tells them", workflow_id)

    async def _assignee(self, workflow_id: str) -> dict[str, Any]:
        """What Ballerine's document event adds: the case's assignee (``{id}`` or null) and when it was assigned."""
        record = await self._ctx.store.get_case(workflow_id)
        if record is None or record.assignee_id is None:
            return {"assignee": None, "assignedAt": None}
        assigned_at = iso_time(record.assigned_at) if record.assigned_at is not None else None
        return {"assignee": {"id": record.assignee_id}, "assignedAt": assigned_at}
