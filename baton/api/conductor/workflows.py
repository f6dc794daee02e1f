"""``/api/workflow``: start (async, sync, idempotent), read and end runs, and an operator's operations on one run.

A run is answered through ``streaming.py``: a large one is streamed, its tasks
read from the store a page at a time, so neither its size nor its encoding holds
the event loop; ``GET /api/workflow/{id}/tasks`` pages through a run's tasks.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.conductor.streaming import json_answer, list_pieces, map_pieces, run_pieces, stored_run_answer
from baton.api.params import (
    body_as,
    bool_param,
    decode_json,
    float_param,
    int_param,
    int_path_param,
    json_body,
    optional_body_as,
    optional_int_param,
    query_or_header,
    string_list_body,
)
from baton.api.responses import JSONResponse, text
from baton.api.routing import NarrowedRoute
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.model import (
    IdempotencyStrategy,
    RerunWorkflowRequest,
    SkipTaskRequest,
    StartWorkflowRequest,
    TaskStatus,
)
from baton.model.codec import convert

_START_REQUEST_KEYS = frozenset(
    {
        "name",
        "version",
        "correlationId",
        "input",
        "priority",
        "taskToDomain",
        "workflowDef",
        "createdBy",
        "idempotencyKey",
        "idempotencyStrategy",
        "externalInputPayloadStoragePath",
    }
)


def _apply_idempotency_headers(request: Request, start: StartWorkflowRequest) -> None:
    key = request.headers.get("x-idempotency-key")
    strategy = request.headers.get("x-on-conflict")
    if key:
        start.idempotency_key = key
    if strategy:
        try:
            start.idempotency_strategy = IdempotencyStrategy(strategy.strip().upper())
        except ValueError:
            choices = ", ".join(s.value for s in IdempotencyStrategy)
            raise ValidationError(
                errors=[FieldError("X-on-conflict", f"must be one of {choices}, got '{strategy}'")]
            ) from None


async def _input_map(request: Request) -> dict[str, Any]:
    body = await json_body(request, empty={})
    if not isinstance(body, dict):
        raise ValidationError(errors=[FieldError("body", "must be a JSON object (the workflow input)")])
    return body


async def start_by_name(request: Request) -> Response:
    """``POST /api/workflow/{name}``: the body is the input; returns the run id as text."""
    start = StartWorkflowRequest(
        name=request.path_params["name"],
        version=optional_int_param(request, "version"),
        correlation_id=request.query_params.get("correlationId"),
        priority=int_param(request, "priority", 0),
        input=await _input_map(request),
    )
    _apply_idempotency_headers(request, start)
    result = await service(request).runs.start(start)
    return text(result.workflow_id)


async def start_with_request(request: Request) -> Response:
    """``POST /api/workflow``: the body is a StartWorkflowRequest; returns the run id as text."""
    start = convert(await json_body(request), StartWorkflowRequest)
    _apply_idempotency_headers(request, start)
    result = await service(request).runs.start(start)
    return text(result.workflow_id)


_NO_REF = frozenset({"None", "null"})
"""A ``waitUntilTaskRef`` that means none: conductor-python 2.0.0 sends its ``None`` as the text ``None``."""


async def execute(request: Request) -> Response:
    """``POST /api/workflow/execute/{name}[/{version}]``: start, then wait for the end (200) or less (206)."""
    baton = service(request)
    body = await json_body(request, empty={})
    if not isinstance(body, dict):
        raise ValidationError(errors=[FieldError("body", "must be a JSON object")])
    # The body is a StartWorkflowRequest when every key is one of its fields and one of them is
    # `input` or `name`; otherwise it is the input map itself.
    is_request = bool(body) and set(body) <= _START_REQUEST_KEYS and ("input" in body or "name" in body)
    start = convert(body, StartWorkflowRequest) if is_request else StartWorkflowRequest(input=body)
    start.name = request.path_params["name"]
    if "version" in request.path_params:
        start.version = int_path_param(request, "version") or None
    elif start.version == 0:
        start.version = None
    if start.correlation_id is None:
        start.correlation_id = request.query_params.get("correlationId")
    priority = optional_int_param(request, "priority")
    if priority is not None:
        start.priority = priority
    _apply_idempotency_headers(request, start)
    wait_seconds = float_param(request, "waitForSeconds", 10.0)
    cap = baton.context.settings.max_wait_for_seconds
    if not 0 <= wait_seconds <= cap:
        message = f"must be between 0 and {cap} (the server's --max-wait-for-seconds), got {wait_seconds:g}"
        raise ValidationError(errors=[FieldError("waitForSeconds", message)])
    refs = query_or_header(request, "waitUntilTaskRef") or ""
    if refs.strip() in _NO_REF:
        refs = ""
    request_id = query_or_header(request, "requestId") or baton.context.new_id()
    outcome = await baton.runs.execute(
        start,
        wait_until_refs=frozenset(r.strip() for r in refs.split(",") if r.strip()),
        wait_for_seconds=wait_seconds,
    )
    pieces = run_pieces(outcome.run, extra={"requestId": request_id})
    return await json_answer(pieces, status_code=200 if outcome.ended else 206)


async def get_run(request: Request) -> Response:
    """The run; with its tasks (``includeTasks``, default true) a large one is streamed, read a page at a time."""
    return await stored_run_answer(
        service(request).runs,
        request.path_params["workflow_id"],
        include_tasks=bool_param(request, "includeTasks", True),
    )


async def get_tasks(request: Request) -> Response:
    """``GET /api/workflow/{id}/tasks?start=&count=&status=``: Conductor's ``TaskListSearchResultSummary``,
    ``{results, totalHits, summary}``; ``status`` may repeat or list several, comma-separated; ``summary`` counts
    the run's tasks by status, whatever the filter."""
    statuses = _statuses(request.query_params.getlist("status"))
    page = await service(request).runs.task_page(
        request.path_params["workflow_id"],
        start=int_param(request, "start", 0),
        count=int_param(request, "count", 15),
        statuses=statuses,
    )
    return JSONResponse({"results": page.results, "totalHits": page.total_hits, "summary": page.summary})


def _statuses(raw: list[str]) -> list[TaskStatus]:
    found: list[TaskStatus] = []
    for value in (part.strip() for given in raw for part in given.split(",")):
        if not value:
            continue
        try:
            found.append(TaskStatus(value.upper()))
        except ValueError:
            choices = ", ".join(status.value for status in TaskStatus)
            raise ValidationError(errors=[FieldError("status", f"must be one of {choices}, got '{value}'")]) from None
    return found


async def get_status(request: Request) -> Response:
    run = await service(request).runs.get(request.path_params["workflow_id"], include_tasks=False)
    return JSONResponse(
        {
            "workflowId": run.workflow_id,
            "correlationId": run.correlation_id,
            "output": run.output,
            "variables": run.variables,
            "status": run.status.value,
        }
    )


async def correlated(request: Request) -> Response:
    runs = await service(request).runs.correlated(
        request.path_params["name"],
        request.path_params["correlation_id"],
        include_closed=bool_param(request, "includeClosed", False),
        include_tasks=bool_param(request, "includeTasks", False),
    )
    return await json_answer(list_pieces(run_pieces(run) for run in runs))


async def correlated_many(request: Request) -> Response:
    """``POST /api/workflow/{name}/correlated``: the body lists correlation ids; answers each id's runs, as the
    ``GET`` for one id does, in a map from the id."""
    found = await service(request).runs.correlated_many(
        request.path_params["name"],
        await string_list_body(request, "correlation id"),
        include_closed=bool_param(request, "includeClosed", False),
        include_tasks=bool_param(request, "includeTasks", False),
    )
    entries = ((cid, list_pieces(run_pieces(run) for run in runs)) for cid, runs in found.items())
    return await json_answer(map_pieces(entries))


async def terminate(request: Request) -> Response:
    await service(request).runs.terminate(request.path_params["workflow_id"], request.query_params.get("reason"))
    return Response(status_code=200)


async def remove(request: Request) -> Response:
    await service(request).runs.remove(request.path_params["workflow_id"])
    return Response(status_code=200)


# -- an operator's operations on one run (baton/service/operations.py) ------------------------


async def pause(request: Request) -> Response:
    await service(request).operations.pause(request.path_params["workflow_id"])
    return Response(status_code=200)


async def resume(request: Request) -> Response:
    await service(request).operations.resume(request.path_params["workflow_id"])
    return Response(status_code=200)


async def restart(request: Request) -> Response:
    """204, as Conductor answers (its 2.x clients expect it)."""
    await service(request).operations.restart(
        request.path_params["workflow_id"],
        use_latest_definitions=bool_param(request, "useLatestDefinitions", False),
    )
    return Response(status_code=204)


async def retry(request: Request) -> Response:
    """204, as Conductor answers."""
    await service(request).operations.retry(
        request.path_params["workflow_id"],
        resume_subworkflow_tasks=bool_param(request, "resumeSubworkflowTasks", False),
    )
    return Response(status_code=204)


async def rerun(request: Request) -> Response:
    """The body is a RerunWorkflowRequest; returns the run's id as text."""
    body = await body_as(request, RerunWorkflowRequest, empty=RerunWorkflowRequest())
    workflow_id = await service(request).operations.rerun(request.path_params["workflow_id"], body)
    return text(workflow_id)


async def skip_task(request: Request) -> Response:
    """A SkipTaskRequest as the JSON body, or as JSON in the ``skipTaskRequest`` query parameter."""
    skip = await optional_body_as(request, SkipTaskRequest)
    if skip is None:
        skip = _skip_request_in_query(request, request.query_params.get("skipTaskRequest"))
    await service(request).operations.skip_task(request.path_params["workflow_id"], request.path_params["ref"], skip)
    return Response(status_code=200)


def _skip_request_in_query(request: Request, raw: str | None) -> SkipTaskRequest:
    """conductor-python sends its SkipTaskRequest in this parameter as Python text, not JSON; Conductor binds no
    such parameter and ignores it. Baton reads it when it is JSON, and otherwise ignores it too."""
    if not raw:
        return SkipTaskRequest()
    try:
        value = decode_json(request, raw, Any, what="skipTaskRequest")
    except ValidationError:
        return SkipTaskRequest()
    return convert(value, SkipTaskRequest, what="skipTaskRequest")


async def update_variables(request: Request) -> Response:
    """The body is a map of variables, merged into the run's; returns the run."""
    variables = await json_body(request)
    if not isinstance(variables, dict):
        raise ValidationError(errors=[FieldError("body", "must be a JSON object (the variables to set)")])
    run = await service(request).operations.update_variables(request.path_params["workflow_id"], variables)
    return await json_answer(run_pieces(run))


async def decide(request: Request) -> Response:
    await service(request).operations.decide(request.path_params["workflow_id"])
    return Response(status_code=200)


# The words a run id never is here, because another route serves them at that place.
_BESIDE_BULK = {"workflow_id": ("bulk",)}
"""``/workflow/bulk/...`` is ``bulk.py``'s."""
_BESIDE_BULK_AND_DECIDE = {"workflow_id": ("bulk", "decide")}
_BESIDE_RUNNING = {"workflow_id": ("running",)}
"""``GET /workflow/running/{name}`` is ``search.py``'s."""
_BESIDE_SEARCH = {"workflow_id": ("search", "search-v2")}
_BESIDE_OPERATIONS = {"name": ("restart", "retry", "rerun", "variables", "correlated")}
"""``POST /workflow/execute/restart`` has always restarted the run "execute" (and so for retry, rerun and
variables): a definition with one of those names cannot be executed by name. ``POST
/workflow/execute/correlated`` is the correlated runs of the definition "execute", as Spring's choice of the longer
literal pattern gives it in Conductor."""
_BESIDE_TEST = {"name": ("test",)}
"""``POST /workflow/test`` is ``testing.py``'s: a definition named "test" is started with a StartWorkflowRequest."""

start_routes = [
    Route("/workflow", start_with_request, methods=["POST"]),
    NarrowedRoute("/workflow/execute/{name}", execute, methods=["POST"], reserved=_BESIDE_OPERATIONS),
    Route("/workflow/execute/{name}/{version:int}", execute, methods=["POST"]),
    NarrowedRoute("/workflow/{name}", start_by_name, methods=["POST"], reserved=_BESIDE_TEST),
]
"""Every start, sync or not: among the first routes tried, after the worker API."""

routes = [
    Route("/workflow/decide/{workflow_id}", decide, methods=["PUT"]),
    NarrowedRoute("/workflow/{workflow_id}/pause", pause, methods=["PUT"], reserved=_BESIDE_BULK_AND_DECIDE),
    NarrowedRoute("/workflow/{workflow_id}/resume", resume, methods=["PUT"], reserved=_BESIDE_BULK_AND_DECIDE),
    NarrowedRoute("/workflow/{workflow_id}/restart", restart, methods=["POST"], reserved=_BESIDE_BULK),
    NarrowedRoute("/workflow/{workflow_id}/retry", retry, methods=["POST"], reserved=_BESIDE_BULK),
    Route("/workflow/{workflow_id}/rerun", rerun, methods=["POST"]),
    Route("/workflow/{workflow_id}/skiptask/{ref}", skip_task, methods=["PUT"]),
    Route("/workflow/{workflow_id}/variables", update_variables, methods=["POST"]),
    Route("/workflow/{name}/correlated/{correlation_id}", correlated, methods=["GET"]),
    Route("/workflow/{name}/correlated", correlated_many, methods=["POST"]),
    NarrowedRoute("/workflow/{workflow_id}/status", get_status, methods=["GET"], reserved=_BESIDE_RUNNING),
    NarrowedRoute("/workflow/{workflow_id}/tasks", get_tasks, methods=["GET"], reserved=_BESIDE_RUNNING),
    Route("/workflow/{workflow_id}/remove", remove, methods=["DELETE"]),
    NarrowedRoute("/workflow/{workflow_id}", get_run, methods=["GET"], reserved=_BESIDE_SEARCH),
    Route("/workflow/{workflow_id}", terminate, methods=["DELETE"]),
]
