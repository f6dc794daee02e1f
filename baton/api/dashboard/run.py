"""A run's page (its graph, steps, input and output) and the actions on it, each a ``POST`` through the service
(``runs.terminate``, ``operations.*``) that comes back to the page saying what was done."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from baton.api.dashboard.forms import check_csrf, read_form
from baton.api.dashboard.graph import run_graph
from baton.api.dashboard.session import RUNS_PAGE
from baton.api.dashboard.templating import page
from baton.api.state import service
from baton.model.access import Permission
from baton.model.runs import WorkflowStatus

ACTIONS = ("terminate", "pause", "resume", "retry", "restart")
"""What the run page's buttons do, each a ``POST /runs/{workflow_id}/<action>``."""


async def run_page(request: Request) -> Response:
    baton = service(request)
    workflow_id = request.path_params["workflow_id"]
    run = await baton.runs.get(workflow_id, include_tasks=True)
    definition = await baton.runs.definition_of(workflow_id)
    done = request.query_params.get("done", "")
    return page(
        request,
        "run.html",
        run=run,
        graph=run_graph(definition, run),
        actions=_actions_for(run.status),
        done=done if done in ACTIONS else "",  # only ever a word of ours on the page
    )


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
    if action == "terminate":
        reason = (await read_form(request)).get("reason", "").strip() or "terminated from the dashboard"
        await baton.runs.terminate(workflow_id, reason)
    elif action == "pause":
        await baton.operations.pause(workflow_id)
    elif action == "resume":
        await baton.operations.resume(workflow_id)
    elif action == "retry":
        await baton.operations.retry(workflow_id)
    elif action == "restart":
        await baton.operations.restart(workflow_id)
    else:
        raise ValueError(f"no dashboard action {action}")


def _action_route(action: str) -> Route:
    """``POST /runs/{workflow_id}/<action>``: the action through the service, then the run's page saying so."""

    async def endpoint(request: Request) -> Response:
        await check_csrf(request)
        await _act(request, action)
        workflow_id = request.path_params["workflow_id"]
        return RedirectResponse(f"{RUNS_PAGE}/{workflow_id}?done={action}", status_code=303)

    return Route(f"/runs/{{workflow_id}}/{action}", endpoint, methods=["POST"])


RULES: dict[str, Permission] = {
    "GET /runs/{workflow_id}": Permission.READ,
    **{f"POST /runs/{{workflow_id}}/{action}": Permission.CONTROL for action in ACTIONS},
}

routes = [
    Route("/runs/{workflow_id}", run_page, methods=["GET"]),
    *(_action_route(action) for action in ACTIONS),
]
