"""``/api/tasks``: the worker API (poll, report), completing a waiting step by reference (``.../sync`` answers the
run), workers' last polls, and task logs."""

from __future__ import annotations

from contextlib import nullcontext

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.conductor.streaming import stored_run_answer
from baton.api.key_limits import long_poll_slot
from baton.api.params import body_as, int_param, json_body
from baton.api.responses import JSONResponse, no_content, text
from baton.api.routing import NarrowedRoute
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.model import TaskResult, TaskResultStatus
from baton.model.codec import decode

_DEFAULT_POLL_TIMEOUT_MS = 100


async def batch_poll(request: Request) -> Response:
    """A long poll when its ``timeout`` is above 0: it holds one of its key's long-poll slots while it waits."""
    count = int_param(request, "count", 1)
    timeout_ms = int_param(request, "timeout", _DEFAULT_POLL_TIMEOUT_MS)
    with long_poll_slot(request) if timeout_ms > 0 else nullcontext():
        tasks = await service(request).tasks.poll(
            request.path_params["task_type"],
            worker_id=request.query_params.get("workerid"),
            domain=request.query_params.get("domain"),
            count=count,
            timeout_ms=timeout_ms,
            gone=request.is_disconnected,
        )
    return JSONResponse(tasks)


async def poll_one(request: Request) -> Response:
    tasks = await service(request).tasks.poll(
        request.path_params["task_type"],
        worker_id=request.query_params.get("workerid"),
        domain=request.query_params.get("domain"),
        count=1,
    )
    return JSONResponse(tasks[0]) if tasks else no_content()


async def update(request: Request) -> Response:
    result = await body_as(request, TaskResult)
    task = await service(request).tasks.update(result)
    return text(task.task_id)


async def update_v2(request: Request) -> Response:
    result = await body_as(request, TaskResult)
    next_task = await service(request).tasks.update_and_poll(result)
    return JSONResponse(next_task) if next_task is not None else no_content()


async def get_task(request: Request) -> Response:
    return JSONResponse(await service(request).tasks.get(request.path_params["task_id"]))


async def queue_sizes(request: Request) -> Response:
    task_types = request.query_params.getlist("taskType")
    return JSONResponse(await service(request).tasks.queue_sizes(task_types))


async def complete_by_ref(request: Request) -> Response:
    return text(await _complete_by_ref(request))


async def complete_by_ref_sync(request: Request) -> Response:
    """``POST /api/tasks/{workflowId}/{ref}/{status}/sync``: as ``complete_by_ref``, answering the run with its tasks
    as it is once the update is applied (read after it, so a later change may show too)."""
    await _complete_by_ref(request)
    return await stored_run_answer(service(request).runs, request.path_params["workflow_id"])


async def _complete_by_ref(request: Request) -> str:
    raw_status = request.path_params["status"]
    try:
        status = TaskResultStatus(raw_status.upper())
    except ValueError:
        choices = ", ".join(s.value for s in TaskResultStatus)
        raise ValidationError(errors=[FieldError("status", f"must be one of {choices}, got '{raw_status}'")]) from None
    output = await json_body(request, empty={})
    if not isinstance(output, dict):
        raise ValidationError(errors=[FieldError("body", "must be a JSON object (the task output)")])
    return await service(request).tasks.complete_by_ref(
        request.path_params["workflow_id"],
        request.path_params["ref"],
        status,
        output,
        worker_id=request.query_params.get("workerid"),
    )


async def poll_data(request: Request) -> Response:
    """``GET /api/tasks/queue/polldata?taskType=``: a list of Conductor's ``PollData``; ``taskType`` is required."""
    task_type = request.query_params.get("taskType")
    if task_type is None:
        raise ValidationError(errors=[FieldError("taskType", "is required")])
    return JSONResponse(await service(request).tasks.poll_data(task_type))


async def all_poll_data(request: Request) -> Response:
    return JSONResponse(await service(request).tasks.poll_data(None))


async def add_log(request: Request) -> Response:
    """The body is the log line: a JSON string (as Conductor's clients send it) or plain text."""
    raw = await request.body()
    if not raw.strip():
        raise ValidationError(errors=[FieldError("body", "is required (the log line)")])
    try:
        line = decode(raw, str)
    except ValidationError:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError(errors=[FieldError("body", "must be UTF-8 text (the log line)")]) from None
    if "\x00" in line:
        raise ValidationError(errors=[FieldError("body", "must not hold a NUL character (the log line)")])
    await service(request).tasks.check_may_work_on_task(request.path_params["task_id"])
    await service(request).operations.add_task_log(request.path_params["task_id"], line)
    return Response(status_code=200)


async def get_logs(request: Request) -> Response:
    return JSONResponse(await service(request).operations.task_logs(request.path_params["task_id"]))


worker_routes = [
    Route("/tasks/update-v2", update_v2, methods=["POST"]),
    Route("/tasks/poll/batch/{task_type}", batch_poll, methods=["GET"]),
    Route("/tasks", update, methods=["POST"]),
]
"""What workers call at every step: listed first, so Starlette (which tries routes in order) finds them soonest."""

routes = [
    Route("/tasks/poll/{task_type}", poll_one, methods=["GET"]),
    Route("/tasks/queue/sizes", queue_sizes, methods=["GET"]),
    Route("/tasks/queue/polldata", poll_data, methods=["GET"]),
    Route("/tasks/queue/polldata/all", all_poll_data, methods=["GET"]),
    Route("/tasks/{workflow_id}/{ref}/{status}", complete_by_ref, methods=["POST"]),
    Route("/tasks/{workflow_id}/{ref}/{status}/sync", complete_by_ref_sync, methods=["POST"]),
    Route("/tasks/{task_id}/log", add_log, methods=["POST"]),
    # GET /tasks/poll/{task_type} above, and /tasks/search[-v2] (search.py).
    NarrowedRoute("/tasks/{task_id}/log", get_logs, methods=["GET"], reserved={"task_id": ("poll",)}),
    NarrowedRoute("/tasks/{task_id}", get_task, methods=["GET"], reserved={"task_id": ("search", "search-v2")}),
]
