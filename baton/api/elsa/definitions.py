"""``/workflow-definitions/{definitionId}/execute`` (POST and GET) and ``/dispatch``: starting runs Elsa's way.

Execute starts the definition's run and answers once it ends or waits on something outside the
server (a worker, a timer, a person, an event), within the server's ``--max-wait-for-seconds``;
then ``{"instanceId", "workflowState"}`` with 200, or 500 when the run faulted. A run that wrote
its own HTTP response (a completed ``HTTP_RESPONSE`` step) gets that response sent instead.
Dispatch starts the run and answers its id at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from baton.api.elsa.requests import (
    NOT_A_DICTIONARY,
    elsa_body,
    json_query_map,
    map_field,
    text_field,
    version_of,
)
from baton.api.elsa.states import sub_status_of, workflow_state
from baton.api.responses import JSONResponse
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.model import StartWorkflowRequest, Task, TaskStatus, TaskType, Workflow
from baton.model.codec import encode
from baton.model.validation import chosen_id_problem

HTTP_RESPONSE = TaskType.HTTP_RESPONSE.value
EXCHANGE = "exchange"
"""An HTTP_RESPONSE's output names the request to an HTTP_ENDPOINT it answered here (``engine/http_steps.py``)."""


async def execute_post(request: Request) -> Response:
    body = await elsa_body(request)
    return await _execute(request, body, map_field(body, "input", NOT_A_DICTIONARY), map_field(body, "variables"))


async def execute_get(request: Request) -> Response:
    """The same as the POST, its fields in the query; ``input`` and ``variables`` are JSON text there."""
    query = request.query_params
    fields = {name: query.get(name) for name in ("correlationId", "versionOptions", "triggerActivityId")}
    return await _execute(request, fields, json_query_map(request, "input"), json_query_map(request, "variables"))


async def _execute(
    request: Request, body: Mapping[str, Any], input_: dict[str, Any], variables: dict[str, Any]
) -> Response:
    baton = service(request)
    start = StartWorkflowRequest(
        name=request.path_params["definition_id"],
        version=version_of(body.get("versionOptions")),
        correlation_id=text_field(body, "correlationId"),
        input=input_,
    )
    await _check_trigger(request, start, text_field(body, "triggerActivityId"))
    outcome = await baton.runs.execute(
        start,
        wait_for_seconds=baton.context.settings.max_wait_for_seconds,
        until_suspended=True,
        variables=variables,
    )
    run = outcome.run
    written = _written_response(run)
    if written is not None:
        written.headers["x-elsa-workflow-instance-id"] = run.workflow_id
        return written
    status = 500 if sub_status_of(run) == "Faulted" else 200
    answer = JSONResponse({"instanceId": run.workflow_id, "workflowState": workflow_state(run)}, status_code=status)
    answer.headers["x-elsa-workflow-instance-id"] = run.workflow_id
    answer.headers["x-elsa-workflow-cannot-start"] = "False"
    answer.headers["x-elsa-response"] = "true"
    return answer


async def _check_trigger(request: Request, start: StartWorkflowRequest, trigger: str | None) -> None:
    """A run always starts at its first step: a ``triggerActivityId`` naming another is refused, not ignored."""
    if not trigger:
        return
    assert start.name is not None
    definition = await service(request).definitions.get_workflow(start.name, start.version)
    first = definition.tasks[0].task_reference_name if definition.tasks else None
    if trigger != first:
        message = f"a run of '{definition.name}' starts at its first step '{first}', not '{trigger[:80]}'"
        raise ValidationError(errors=[FieldError("triggerActivityId", message)])


def _written_response(run: Workflow) -> Response | None:
    """The response the run's last completed ``HTTP_RESPONSE`` step wrote, if it wrote one for no other request."""
    written: Task | None = None
    for task in run.tasks:
        if task.task_type != HTTP_RESPONSE or task.status is not TaskStatus.COMPLETED:
            continue
        if task.output_data.get(EXCHANGE) is None:  # one naming a request answered that request's caller
            written = task
    if written is None:
        return None
    output = written.output_data
    status = output.get("statusCode", 200)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        status = 200
    body = output.get("body")
    content_type = output.get("contentType")
    content: bytes
    if body is None or status == 204:
        content = b""
    elif isinstance(body, str):
        content = body.encode()
        content_type = content_type or "text/plain"
    else:
        content = encode(body)
        content_type = content_type or "application/json"
    headers = output.get("headers")
    response = Response(content, status_code=status, media_type=content_type if content else None)
    if isinstance(headers, dict):
        for name, value in headers.items():
            values = value if isinstance(value, list) else [value]
            for item in values:
                if isinstance(item, str | int | float) and not isinstance(item, bool):
                    response.headers.append(str(name), str(item))
    return response


async def dispatch(request: Request) -> Response:
    """Start a run and answer ``{"workflowInstanceId"}`` once it is stored; a client's ``instanceId`` that is
    taken is a 409."""
    body = await elsa_body(request)
    instance_id = text_field(body, "instanceId") or None
    if instance_id is not None:
        problem = chosen_id_problem(instance_id)
        if problem:
            raise ValidationError(errors=[FieldError("instanceId", problem)])
    start = StartWorkflowRequest(
        name=request.path_params["definition_id"],
        version=version_of(body.get("versionOptions")),
        correlation_id=text_field(body, "correlationId"),
        input=map_field(body, "input", NOT_A_DICTIONARY),
    )
    await _check_trigger(request, start, text_field(body, "triggerActivityId"))
    result = await service(request).runs.start(start, workflow_id=instance_id)
    return JSONResponse({"workflowInstanceId": result.workflow_id})
