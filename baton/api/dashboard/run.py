"""A run's page: its graph, timeline, steps (input, output, attempts, logs) and data, brought up to date while the
run goes on, and the actions on it, each a ``POST`` through the service that comes back to the page saying what
was done.

The changing part of the page is one template (``run_live.html``), served alone at ``/runs/{id}/live`` for
``static/run.js`` to poll; it carries a fingerprint of the run, which the poll sends back, and an unchanged run
is answered 204 and not redrawn. A step's logs
are read only when asked for (``/runs/{id}/tasks/{task_id}/logs``), so the page costs two queries however many
steps the run has. Acting on a step: rerun from it (an ended run), skip it (scheduled or not yet run, in a running
run), complete a waiting WAIT or HUMAN step with a JSON object as its output; all need CONTROL, as on the API
(where CONTROL is "update a task by hand"; an OPERATOR has it, a VIEWER or REVIEWER does not).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import defaultdict
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from baton.api.dashboard.forms import check_csrf, read_form, required
from baton.api.dashboard.graph import Graph, run_graph
from baton.api.dashboard.session import RUNS_PAGE
from baton.api.dashboard.templating import page
from baton.api.dashboard.timeline import timeline
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.model import RerunWorkflowRequest, SkipTaskRequest, Task, Workflow
from baton.model.access import Permission
from baton.model.definitions import TaskType
from baton.model.runs import TaskResultStatus, TaskStatus, WorkflowStatus

ACTIONS = ("terminate", "pause", "resume", "retry", "restart")
"""What the run page's buttons do, each a ``POST /runs/{workflow_id}/<action>``."""
STEP_ACTIONS = ("rerun", "skip", "complete")
"""What is done to one step, each a ``POST /runs/{workflow_id}/<action>`` naming the step in its form."""
DONE = {
    "terminate": "the run was terminated",
    "pause": "the run was paused",
    "resume": "the run was resumed",
    "retry": "the run's failed steps were retried",
    "restart": "the run was restarted from its start",
    "rerun": "the run was rerun from the chosen step",
    "skip": "the step was skipped",
    "complete": "the step was completed with the given output",
}
"""What the page says after each action (only ever these words of ours, never the query's)."""
COMPLETABLE = frozenset({TaskType.WAIT.value, TaskType.HUMAN.value})
NOT_RUN = "NOT_RUN"
"""The graph's status of a step no task was scheduled for."""
OUTPUT_FIELD = "output"


async def run_page(request: Request) -> Response:
    done = request.query_params.get("done", "")
    run = await service(request).runs.get(request.path_params["workflow_id"], include_tasks=True)
    return page(request, "run.html", done=DONE.get(done, ""), **await _view(request, run))


async def _refused_output(request: Request, ref: str, typed: str, errors: list[FieldError]) -> Response:
    """The run's page again (400) with the output typed for ``ref`` kept and the messages at its field."""
    run = await service(request).runs.get(request.path_params["workflow_id"], include_tasks=True)
    view = await _view(request, run)
    view["typed"] = {ref: typed}
    view["output_errors"] = {ref: [error.message for error in errors]}
    return page(request, "run.html", status_code=400, done="", **view)


async def live_fragment(request: Request) -> Response:
    """The changing part of the run's page alone, for ``run.js`` to swap in; nothing (204) when the run is as the
    page's fingerprint (``?since=``) says, so an unchanged run costs its read and no drawing."""
    run = await service(request).runs.get(request.path_params["workflow_id"], include_tasks=True)
    if request.query_params.get("since") == _fingerprint(run):
        return Response(status_code=204, headers={"cache-control": "no-store"})
    return page(request, "run_live.html", **await _view(request, run))


async def task_logs(request: Request) -> Response:
    """A task's log lines: read into the step's panel by ``run.js``, or opened as a page without it."""
    task_id = request.path_params["task_id"]
    logs = await service(request).operations.task_logs(task_id)
    return page(request, "task_logs.html", workflow_id=request.path_params["workflow_id"], task_id=task_id, logs=logs)


async def _view(request: Request, run: Workflow) -> dict[str, Any]:
    """What ``run_live.html`` draws: the run with its tasks, its definition (one more read), and what follows."""
    definition = await service(request).runs.definition_of(run.workflow_id)
    graph = run_graph(definition, run)
    attempts: dict[str, list[Task]] = defaultdict(list)
    for task in run.tasks:
        attempts[task.reference_task_name].append(task)
    running = run.status is WorkflowStatus.RUNNING
    return {
        "run": run,
        "graph": graph,
        "timeline": timeline(run.tasks, 0 if run.status.is_terminal else int(time.time() * 1000)),
        "attempts": attempts,
        "actions": _actions_for(run.status),
        "finished": run.status.is_terminal,
        "fingerprint": _fingerprint(run),
        "skippable": _skippable(run, graph) if running else [],
        "rerunnable": run.tasks if run.status.is_terminal else [],
        "completable": [t for t in run.tasks if t.task_type in COMPLETABLE and not t.status.is_terminal],
        "output_field": OUTPUT_FIELD,
        "typed": {},
        "output_errors": {},
    }


def _skippable(run: Workflow, graph: Graph) -> list[str]:
    """The references a person may skip: a task's that is scheduled (inside a loop, its iteration's ``ref__N``),
    and a step's that has not run."""
    scheduled = {task.reference_task_name for task in run.tasks if task.status is TaskStatus.SCHEDULED}
    return sorted(scheduled | {node.ref for node in graph.nodes if node.status == NOT_RUN})


def _fingerprint(run: Workflow) -> str:
    """Changes whenever the run or one of its tasks does: the live refresh redraws only then."""
    digest = hashlib.sha256(f"{run.status.value}|{run.update_time}|{run.end_time}".encode())
    for task in run.tasks:
        digest.update(f"|{task.task_id}:{task.status.value}:{task.update_time}:{task.end_time}".encode())
    return digest.hexdigest()[:16]


def _actions_for(status: WorkflowStatus) -> list[str]:
    """The actions that make sense for a run in ``status`` (the service refuses the others anyway)."""
    if status is WorkflowStatus.RUNNING:
        return ["pause", "terminate"]
    if status is WorkflowStatus.PAUSED:
        return ["resume", "terminate"]
    if status in (WorkflowStatus.FAILED, WorkflowStatus.TIMED_OUT, WorkflowStatus.TERMINATED):
        return ["retry", "restart"]
    return ["restart"]


async def _act(request: Request, action: str) -> None:
    baton = service(request)
    workflow_id = request.path_params["workflow_id"]
    form = await read_form(request)
    if action == "terminate":
        await baton.runs.terminate(workflow_id, form.get("reason", "").strip() or "terminated from the dashboard")
    elif action == "pause":
        await baton.operations.pause(workflow_id)
    elif action == "resume":
        await baton.operations.resume(workflow_id)
    elif action == "retry":
        await baton.operations.retry(workflow_id)
    elif action == "restart":
        await baton.operations.restart(workflow_id)
    elif action == "rerun":
        task_id = _field(form, "taskId")
        await baton.operations.rerun(workflow_id, RerunWorkflowRequest(re_run_from_task_id=task_id))
    elif action == "skip":
        await baton.operations.skip_task(workflow_id, _field(form, "ref"), SkipTaskRequest())
    elif action == "complete":
        ref = _field(form, "ref")
        output = _json_object(form.get(OUTPUT_FIELD, ""), OUTPUT_FIELD)
        await baton.tasks.complete_by_ref(workflow_id, ref, TaskResultStatus.COMPLETED, output)
    else:
        raise ValueError(f"no dashboard action {action}")


def _field(form: dict[str, str], name: str) -> str:
    errors: list[FieldError] = []
    value = required(form, name, errors)
    if errors:
        raise ValidationError(errors=errors)
    return value


def _json_object(raw: str, name: str) -> dict[str, Any]:
    """The JSON object typed in a field (empty: ``{}``); a 400 naming the field when it is not one."""
    try:
        value = json.loads(raw.strip() or "{}")
    except ValueError as exc:
        raise ValidationError(errors=[FieldError(name, f"is not JSON: {exc}")]) from None
    if not isinstance(value, dict):
        raise ValidationError(errors=[FieldError(name, "must be a JSON object")])
    return value


def _action_route(action: str) -> Route:
    """``POST /runs/{workflow_id}/<action>``: the action through the service, then the run's page saying so."""

    async def endpoint(request: Request) -> Response:
        await check_csrf(request)
        try:
            await _act(request, action)
        except ValidationError as exc:
            form = await read_form(request)
            if action != "complete" or not form.get("ref") or any(e.path != OUTPUT_FIELD for e in exc.errors):
                raise
            return await _refused_output(request, form["ref"], form.get(OUTPUT_FIELD, ""), exc.errors)
        workflow_id = request.path_params["workflow_id"]
        return RedirectResponse(f"{RUNS_PAGE}/{workflow_id}?done={action}", status_code=303)

    return Route(f"/runs/{{workflow_id}}/{action}", endpoint, methods=["POST"])


RULES: dict[str, Permission] = {
    "GET /runs/{workflow_id}": Permission.READ,
    "GET /runs/{workflow_id}/live": Permission.READ,
    "GET /runs/{workflow_id}/tasks/{task_id}/logs": Permission.READ,
    **{f"POST /runs/{{workflow_id}}/{action}": Permission.CONTROL for action in (*ACTIONS, *STEP_ACTIONS)},
}

routes = [
    Route("/runs/{workflow_id}", run_page, methods=["GET"]),
    Route("/runs/{workflow_id}/live", live_fragment, methods=["GET"]),
    Route("/runs/{workflow_id}/tasks/{task_id}/logs", task_logs, methods=["GET"]),
    *(_action_route(action) for action in (*ACTIONS, *STEP_ACTIONS)),
]
