"""``POST /events/{eventName}/trigger``: an event resumes the runs waiting for it and starts those it triggers.

A WAIT or HUMAN step waits for the event its ``inputParameters.event`` names, or its reference
name (``baton.model.triggers.waited_event``); each one waiting (of the run ``workflowInstanceId``
or the correlation id, when given) completes with the event's ``input`` as its output. Without a
``workflowInstanceId``, each definition whose first step waits for the event with
``canStartWorkflow`` gets a run of its latest version, its input the event's, and the event is
delivered to it. Every start is checked before anything changes. ``Asynchronous`` (the default)
answers 200 once that is stored; ``Synchronous`` once those runs have ended or wait again.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from baton.api.elsa.requests import NOT_A_DICTIONARY, elsa_body, map_field, text_field
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.model import StartWorkflowRequest
from baton.model.triggers import EVENT_KIND

_MODES = {"asynchronous": False, "synchronous": True}


async def trigger(request: Request) -> Response:
    baton = service(request)
    name = request.path_params["event_name"]
    body = await elsa_body(request)
    workflow_id = text_field(body, "workflowInstanceId") or None
    correlation_id = text_field(body, "correlationId") or None
    payload = map_field(body, "input", NOT_A_DICTIONARY)
    mode = text_field(body, "workflowExecutionMode") or "Asynchronous"
    if mode.lower() not in _MODES:
        message = f"must be Asynchronous or Synchronous, got '{mode[:40]}'"
        raise ValidationError(errors=[FieldError("workflowExecutionMode", message)])
    if text_field(body, "activityInstanceId"):
        message = (
            "is not supported: name the run by workflowInstanceId (each of its steps waiting for the event goes on)"
        )
        raise ValidationError(errors=[FieldError("activityInstanceId", message)])
    starts = []
    if workflow_id is None:
        for found in await baton.waits.triggers(EVENT_KIND, name):
            start = StartWorkflowRequest(name=found.workflow_name, correlation_id=correlation_id, input=payload)
            await baton.runs.check_start(start)
            starts.append(start)
    resumed = await baton.waits.deliver_event(name, payload, workflow_id=workflow_id, correlation_id=correlation_id)
    touched = list(dict.fromkeys(step.workflow_id for step in resumed))
    for start in starts:
        started = await baton.runs.start(start)
        await baton.waits.deliver_event(name, payload, workflow_id=started.workflow_id)
        touched.append(started.workflow_id)
    if _MODES[mode.lower()]:
        bound = baton.context.settings.max_wait_for_seconds
        await asyncio.gather(
            *(
                baton.runs.settle(run_id, wait_for_seconds=bound, until_suspended=True)
                for run_id in dict.fromkeys(touched)
            )
        )
    return Response(status_code=200)
