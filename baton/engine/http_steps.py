"""How HTTP_ENDPOINT and HTTP_RESPONSE steps behave in a decision.

An HTTP_ENDPOINT waits (IN_PROGRESS, like HUMAN) until a request to its path comes, and completes with the
request as its output (``received``): ``body``, ``headers``, ``query``, ``routeData``, ``method``, ``path``, and
``exchange``: ``{id, respondBy, afterSeq}``, which names the request, the moment its caller stops waiting, and
the last task ``seq`` of the run when it arrived. A run's first step that a trigger started completes in the
start decision itself, from ``DecideContext.http_request``.

An HTTP_RESPONSE completes at once with its response as its output. It answers the request of the latest
HTTP_ENDPOINT completed by one, unless (``unanswerable``) that request was already answered by another
response, its caller's time ran out, or the run waited since (a step that waits for someone outside was made
after the request, in an earlier decision: its caller was then answered ``200`` with an empty body). Its output
then has ``exchange: null`` and a line in its log says why; otherwise ``exchange`` is the request's id, which is
how the waiting caller finds its answer (``waited_since`` is the rule both sides apply).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Final

import msgspec

from baton.engine import system_tasks
from baton.engine.expressions import to_text
from baton.engine.run_state import RunState, is_worker
from baton.model import Task, TaskExecLog, TaskStatus, TaskType
from baton.model.http_endpoints import content_type_problem, header_problem, status_code

ENDPOINT: Final = TaskType.HTTP_ENDPOINT.value
RESPONSE: Final = TaskType.HTTP_RESPONSE.value
EXCHANGE: Final = "exchange"
_WAITING_SYSTEM_TYPES: Final = frozenset({TaskType.WAIT.value, TaskType.HUMAN.value, ENDPOINT})

_replace = msgspec.structs.replace


def received(request: Mapping[str, Any], after_seq: int) -> dict[str, Any]:
    """An HTTP_ENDPOINT's output for ``request`` (as the service read it), arrived when the run's last seq was
    ``after_seq``."""
    exchange = request.get(EXCHANGE)
    return {**request, EXCHANGE: {**(exchange if isinstance(exchange, dict) else {}), "afterSeq": after_seq}}


def exchange_of(task: Task) -> Mapping[str, Any] | None:
    """The request an HTTP_ENDPOINT task completed with (``id``, ``respondBy``, ``afterSeq``), if one did."""
    if task.task_type != ENDPOINT or task.status is not TaskStatus.COMPLETED:
        return None
    found = task.output_data.get(EXCHANGE)
    return found if isinstance(found, dict) and isinstance(found.get("id"), str) else None


def waits_outside(task: Task) -> bool:
    """A step that waits for someone outside the server: a worker, a time, a person, a request."""
    return task.task_type in _WAITING_SYSTEM_TYPES or is_worker(task)


def waited_since(tasks: Iterable[Task], after_seq: int, *, made_now: Collection[str] = ()) -> Task | None:
    """A step that made the run wait after ``after_seq`` (not one of ``made_now``, this decision's), if any.

    A step that ended in the very moment it was made (a WAIT of no duration) never waited.
    """
    for task in tasks:
        if task.seq <= after_seq or task.task_id in made_now or not waits_outside(task):
            continue
        if task.status.is_terminal and task.end_time == task.scheduled_time:
            continue
        return task
    return None


def answered(tasks: Iterable[Task], exchange_id: str) -> Task | None:
    """The HTTP_RESPONSE that answered request ``exchange_id``, if one did."""
    for task in tasks:
        if task.task_type == RESPONSE and task.output_data.get(EXCHANGE) == exchange_id:
            return task
    return None


def _endpoint(state: RunState, task: Task) -> None:
    request = state.ctx.http_request
    first = state.definition.tasks[0].task_reference_name if state.definition.tasks else None
    if request is not None and not state.run.tasks and task.reference_task_name == first:
        state.put(system_tasks.completed(task, state.now, received(request, state.max_seq)))
        return
    state.put(_replace(task, status=TaskStatus.IN_PROGRESS, start_time=task.start_time or state.now))


def _open_request(state: RunState, task: Task) -> tuple[str | None, str]:
    """The request this response answers, or None and why there is none."""
    latest: tuple[tuple[int, int], Task, Mapping[str, Any]] | None = None
    for candidate in state.tasks:
        exchange = exchange_of(candidate)
        if exchange is not None and (latest is None or (candidate.end_time, candidate.seq) > latest[0]):
            latest = ((candidate.end_time, candidate.seq), candidate, exchange)
    if latest is None:
        return None, "the run was not started or resumed by an HTTP request"
    _, endpoint, exchange = latest
    exchange_id = exchange["id"]
    before = answered((t for t in state.tasks if t.task_id != task.task_id), exchange_id)
    if before is not None:
        return (
            None,
            f"the request to '{endpoint.reference_task_name}' was already answered by '{before.reference_task_name}'",
        )
    respond_by = exchange.get("respondBy")
    if isinstance(respond_by, int) and state.now > respond_by:
        return None, f"the request to '{endpoint.reference_task_name}' timed out (requestTimeoutSeconds)"
    after_seq = exchange.get("afterSeq")
    waited = waited_since(state.tasks, after_seq if isinstance(after_seq, int) else 0, made_now=state.created)
    if waited is not None:
        return None, (
            f"the run waited at '{waited.reference_task_name}' ({waited.task_type}) after the request to "
            f"'{endpoint.reference_task_name}', whose caller was answered then"
        )
    return exchange_id, ""


def _response(state: RunState, task: Task) -> None:
    now, inputs = state.now, task.input_data
    status = status_code(inputs.get("statusCode", 200))
    if status is None:
        reason = f"statusCode must be a whole number from 200 to 599, not {inputs.get('statusCode')!r}"
        state.put(system_tasks.failed(task, now, reason))
        return
    headers = inputs.get("headers") or {}
    problem = header_problem(headers)
    if problem is not None:
        state.put(system_tasks.failed(task, now, f"headers{problem[0]} {problem[1]}"))
        return
    content_type = inputs.get("contentType")
    type_problem = content_type_problem(content_type)
    if type_problem is not None:
        state.put(system_tasks.failed(task, now, f"contentType {type_problem}"))
        return
    exchange_id, why = _open_request(state, task)
    output = {
        "statusCode": status,
        "headers": {name: to_text(value) for name, value in headers.items()},
        "body": inputs.get("body"),
        "contentType": content_type,
        EXCHANGE: exchange_id,
    }
    state.put(system_tasks.completed(task, now, output))
    if exchange_id is None:
        line = f"No request to answer, so this response was not sent: {why}"
        state.logs.append(TaskExecLog(log=line, task_id=task.task_id, created_time=now))


RUNNERS: Final[dict[str, Callable[[RunState, Task], None]]] = {ENDPOINT: _endpoint, RESPONSE: _response}
"""The steps that need the whole run to run (``attempts.execute_system_task`` hands them the decision's state)."""
