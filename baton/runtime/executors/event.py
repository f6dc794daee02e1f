"""EVENT tasks with a webhook sink: the task's payload is POSTed as JSON to the sink's URL.

The payload and the task's output are Conductor's EVENT task output: the task's
input plus ``workflowInstanceId``, ``workflowType``, ``workflowVersion``,
``correlationId`` and ``sink``, and, in the output, ``event_produced`` (the sink).
A 2xx answer completes the task (or, with ``asyncComplete``, leaves it
IN_PROGRESS). A failed post (no answer, or not 2xx) is tried again a few times
at once (0.2 s, then 1 s apart); when all fail, the task fails and is retried
per its TaskDef. Sinks other than ``webhook:http(s)://...`` are
refused when the definition is registered; one that an expression turned into
something else fails the task with a terminal error.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

import httpx

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
from baton.service import Baton

WEBHOOK_PREFIX: Final = "webhook:"
_PAUSES_BETWEEN_ATTEMPTS: Final = (0.2, 1.0)


async def run_event(
    task: Task, client: httpx.AsyncClient, reporter: Reporter, service: Baton, lease_seconds: int
) -> None:
    step = task.workflow_task
    sink = (step.sink if step is not None else None) or task.input_data.get("sink")
    if not isinstance(sink, str) or not sink.startswith(EVENT_SINK_SCHEMES):
        reason = f"sink must be 'webhook:https://...' or 'webhook:http://...', not {sink!r}"
        await reporter.report(task, TaskResultStatus.FAILED_WITH_TERMINAL_ERROR, reason=reason)
        return
    run = await service.store.get_run(task.workflow_instance_id, include_tasks=False)
    payload: dict[str, Any] = {
        **task.input_data,
        "sink": sink,
        "workflowInstanceId": task.workflow_instance_id,
        "workflowType": task.workflow_type,
        "workflowVersion": run.workflow_version if run is not None else None,
        "correlationId": task.correlation_id,
    }
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
        except (httpx.HTTPError, TimeoutError, ResponseTooLarge) as exc:
            reason = f"POST {url}: {failure_reason(exc)}"
            continue
        if response.ok:
            await reporter.report(task, success_status(task), {**payload, "event_produced": sink})
            return
        reason = f"POST {url} answered {response.status_code} {response.reason_phrase}"
    await reporter.report(task, TaskResultStatus.FAILED, {**payload}, reason=f"{reason} ({attempts} attempts)")
