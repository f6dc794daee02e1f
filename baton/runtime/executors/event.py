"""EVENT tasks: publish the task's payload to its sink.

The payload and the task's output are Conductor's EVENT task output: the task's
input plus ``workflowInstanceId``, ``workflowType``, ``workflowVersion``,
``correlationId`` and ``sink``, and, in the output, ``event_produced`` (where it went).

* ``conductor`` and ``conductor:<name>``: Conductor's own queue. The event is named
  as Conductor names it (``conductor:<workflow name>:<task reference>`` for a plain
  ``conductor``, ``conductor:<workflow name>:<name>`` otherwise) and published through
  the outbox: the task's result and the event commit together
  (``EventHandlerService.publish``), and the handlers listening on that name act on
  it afterwards (``service.event_actions``).
* ``webhook:http(s)://...``: the payload is POSTed as JSON to the URL. A 2xx answer
  completes the task. A failed post (no answer, or not 2xx) is tried again a few
  times at once (0.2 s, then 1 s apart); when all fail, the task fails and is
  retried per its TaskDef. A URL the outbound guard refuses (``runtime.outbound``) fails
  the task at once, terminally.
* Any other sink (``sqs:``, ``kafka:``, ``nats:``, ``amqp:``...) is accepted at
  registration, as Conductor accepts it, and fails the task here with a reason that
  names the sink: Baton reaches no such queue.

With ``asyncComplete`` a published task stays IN_PROGRESS until the API completes it.
A sink given as an expression is resolved against the run first, as Conductor does.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

import httpx

from baton.engine.expressions import document_for, resolve
from baton.errors import ConflictError, NotFoundError
from baton.model import Task, TaskResultStatus
from baton.model.validation import EVENT_SINK_SCHEMES
from baton.runtime.executors.http import (
    HttpRequest,
    ResponseTooLarge,
    budget_for,
    failure_reason,
    send,
    success_status,
)
from baton.runtime.executors.reporting import Reporter
from baton.runtime.outbound import OutboundRefused
from baton.service import Baton

WEBHOOK_PREFIX: Final = "webhook:"
CONDUCTOR_SINK: Final = "conductor"
CONDUCTOR_PREFIX: Final = "conductor:"
_PAUSES_BETWEEN_ATTEMPTS: Final = (0.2, 1.0)

log = logging.getLogger(__name__)


async def run_event(
    task: Task, client: httpx.AsyncClient, reporter: Reporter, service: Baton, lease_seconds: int
) -> None:
    run = await service.store.get_run(task.workflow_instance_id, include_tasks=False)
    step = task.workflow_task
    sink = (step.sink if step is not None else None) or task.input_data.get("sink")
    if isinstance(sink, str) and "${" in sink:
        sink = await _resolved_sink(service, task, sink)
    if not isinstance(sink, str) or not sink.strip():
        await reporter.report(task, TaskResultStatus.FAILED, reason=f"EVENT task has no sink (got {sink!r})")
        return
    payload: dict[str, Any] = {
        **task.input_data,
        "sink": sink,
        "workflowInstanceId": task.workflow_instance_id,
        "workflowType": task.workflow_type,
        "workflowVersion": run.workflow_version if run is not None else None,
        "correlationId": task.correlation_id,
    }
    if sink == CONDUCTOR_SINK or sink.startswith(CONDUCTOR_PREFIX):
        # Published events start and change other runs: their payload keeps no secret value.
        await _publish(task, sink, reporter.mask(payload), reporter, service)
        return
    if not sink.startswith(EVENT_SINK_SCHEMES):
        await reporter.report(task, TaskResultStatus.FAILED, {**payload}, reason=unsupported_sink_reason(sink))
        return
    url = sink.removeprefix(WEBHOOK_PREFIX)
    request = HttpRequest(uri=url, method="POST", body=payload)
    attempts = len(_PAUSES_BETWEEN_ATTEMPTS) + 1
    budget = budget_for(lease_seconds) / attempts
    reason = ""
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(_PAUSES_BETWEEN_ATTEMPTS[attempt - 1])
        try:
            response = await send(client, request, budget_seconds=budget)
        except OutboundRefused as exc:
            reason = f"POST {url}: {exc}"
            await reporter.report(task, TaskResultStatus.FAILED_WITH_TERMINAL_ERROR, {**payload}, reason=reason)
            return
        except (httpx.HTTPError, TimeoutError, ResponseTooLarge) as exc:
            reason = f"POST {url}: {failure_reason(exc)}"
            continue
        if response.ok:
            await reporter.report(task, success_status(task), {**payload, "event_produced": sink})
            return
        reason = f"POST {url} answered {response.status_code} {response.reason_phrase}"
    await reporter.report(task, TaskResultStatus.FAILED, {**payload}, reason=f"{reason} ({attempts} attempts)")


def conductor_event_name(sink: str, workflow_name: str, reference_task_name: str) -> str:
    """The event a ``conductor`` sink publishes, named as Conductor's EVENT task names its queue."""
    if sink == CONDUCTOR_SINK:
        return f"{CONDUCTOR_PREFIX}{workflow_name}:{reference_task_name}"
    return f"{CONDUCTOR_PREFIX}{workflow_name}:{sink.removeprefix(CONDUCTOR_PREFIX)}"


def unsupported_sink_reason(sink: str) -> str:
    scheme = sink.split(":", 1)[0]
    return (
        f"Unsupported sink '{sink}': Baton cannot publish to '{scheme}' queues; an EVENT task's sink must be "
        "'conductor', 'conductor:<name>' or 'webhook:http(s)://...'"
    )


async def _publish(task: Task, sink: str, payload: dict[str, Any], reporter: Reporter, service: Baton) -> None:
    event = conductor_event_name(sink, task.workflow_type, task.reference_task_name)
    try:
        await service.events.publish(task, success_status(task), event, payload, worker_id=reporter.worker_id)
    except (ConflictError, NotFoundError) as exc:
        log.info("event of EVENT task %s not published: %s", task.task_id, exc)


async def _resolved_sink(service: Baton, task: Task, sink: str) -> Any:
    """A sink written as an expression (``${workflow.input.sink}``), resolved against the run."""
    run = await service.store.get_run(task.workflow_instance_id, include_tasks=True)
    if run is None:
        return sink
    return resolve(sink, document_for(run))
