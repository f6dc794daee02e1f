"""The dashboard's routes: log in and out, the runs list, a run's page and its actions, starting a run
(``starting.py``), the static files.

Every page reads through the service (``api.state.service``), as the APIs do: the list is the search
Conductor's ``/api/workflow/search`` runs, a run's page ``runs.get`` and ``runs.definition_of``, the actions
``runs.terminate`` and ``operations.*``. A bad filter or form is a 400 page naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from baton.api.dashboard.access import ACTIONS
from baton.api.dashboard.forms import check_csrf, read_form, required
from baton.api.dashboard.graph import run_graph
from baton.api.dashboard.session import COOKIE_PATH, clear_session, set_session
from baton.api.dashboard.starting import start_choice, start_form, start_run
from baton.api.dashboard.templating import page
from baton.api.params import int_param
from baton.api.state import service
from baton.errors import AuthenticationError, FieldError, NotFoundError, PermissionDeniedError, ValidationError
from baton.model.runs import WorkflowStatus
from baton.service import SearchParams

PAGE_SIZE = 25
RUNS_PAGE = f"{COOKIE_PATH}/runs"
STATIC = Path(__file__).parent / "static"
_STATIC_FILES = {path.name: path for path in STATIC.iterdir() if path.is_file()}
_MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript", ".txt": "text/plain"}


async def home(request: Request) -> Response:
    """``GET /`` and ``GET /ui``: the dashboard's runs list."""
    return RedirectResponse(RUNS_PAGE, status_code=307)


def _safe_next(raw: str) -> str:
    """Where to go after logging in: a page of the dashboard only, never another site."""
    return raw if raw.startswith(f"{COOKIE_PATH}/") and not raw.startswith("//") and "\\" not in raw else RUNS_PAGE


async def login_form(request: Request) -> Response:
    next_page = _safe_next(request.query_params.get("next", RUNS_PAGE))
    return page(request, "login.html", message="", next=next_page, key_id="")


async def login(request: Request) -> Response:
    """The key's id and secret for a session cookie holding a token made from them (``session.py``)."""
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        # A form of another site would log the browser in as a key of that site's choosing.
        raise PermissionDeniedError(f"A login is sent from the dashboard's own pages, not from {origin[:100]}")
    form = await read_form(request)
    next_page = _safe_next(form.get("next", RUNS_PAGE))
    baton = service(request)
    settings = baton.context.settings
    if not settings.auth:
        return RedirectResponse(next_page, status_code=303)
    errors: list[FieldError] = []
    key_id = required(form, "keyId", errors)
    secret = required(form, "keySecret", errors)
    if errors:
        raise ValidationError(errors=errors)
    try:
        token = await baton.access.authenticator.issue_token(key_id, secret)
    except AuthenticationError:
        return page(
            request, "login.html", status_code=401, message="Wrong key id or secret", next=next_page, key_id=key_id
        )
    response = RedirectResponse(next_page, status_code=303)
    set_session(response, token, settings.token_lifetime_seconds, secure=request.url.scheme == "https")
    return response


async def logout(request: Request) -> Response:
    await check_csrf(request)
    response = RedirectResponse(f"{COOKIE_PATH}/login", status_code=303)
    clear_session(response)
    return response


async def static_file(request: Request) -> Response:
    path = _STATIC_FILES.get(request.path_params["name"])
    if path is None:
        raise NotFoundError(f"No dashboard file {request.path_params['name']}")
    media_type = _MEDIA_TYPES.get(path.suffix, "application/octet-stream")
    return FileResponse(path, media_type=media_type, headers={"cache-control": "public, max-age=3600"})


@dataclass(frozen=True, slots=True)
class RunFilters:
    workflow_type: str
    status: str
    correlation_id: str
    free_text: str

    @classmethod
    def of(cls, request: Request) -> RunFilters:
        query = request.query_params
        filters = cls(
            workflow_type=query.get("workflowType", "").strip(),
            status=query.get("status", "").strip().upper(),
            correlation_id=query.get("correlationId", "").strip(),
            free_text=query.get("freeText", "").strip(),
        )
        if filters.status and filters.status not in WorkflowStatus.__members__:
            choices = ", ".join(WorkflowStatus.__members__)
            raise ValidationError(errors=[FieldError("status", f"must be one of {choices}, got '{filters.status}'")])
        return filters

    def query(self, *, status: str | None = None) -> str | None:
        """The search's query text (Conductor's language), with ``status`` in place of the filter's when given."""
        parts = []
        if self.workflow_type:
            parts.append(f"workflowType = {_quoted(self.workflow_type)}")
        if self.correlation_id:
            parts.append(f"correlationId = {_quoted(self.correlation_id)}")
        chosen = self.status if status is None else status
        if chosen:
            parts.append(f"status = {chosen}")
        return " AND ".join(parts) or None

    def link(self, **changes: str | int) -> str:
        """The list's address with these filters, some changed."""
        fields: dict[str, str | int] = {
            "workflowType": self.workflow_type,
            "status": self.status,
            "correlationId": self.correlation_id,
            "freeText": self.free_text,
            **changes,
        }
        return f"{RUNS_PAGE}?{urlencode({k: v for k, v in fields.items() if v not in ('', 0)})}"


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


async def runs_list(request: Request) -> Response:
    filters = RunFilters.of(request)
    start = int_param(request, "start", 0, minimum=0)
    search = service(request).search
    free_text = filters.free_text or None
    found = await search.runs(SearchParams(query=filters.query(), free_text=free_text, start=start, size=PAGE_SIZE))
    counts: dict[str, int] = {}
    for status in WorkflowStatus:
        counted = await search.runs(SearchParams(query=filters.query(status=status.value), free_text=free_text, size=0))
        counts[status.value] = counted.total_hits
    names = sorted({definition.name for definition in await service(request).definitions.list_workflows()})
    return page(
        request,
        "runs.html",
        runs=found.results,
        total=found.total_hits,
        start=start,
        size=PAGE_SIZE,
        counts=counts,
        filters=filters,
        statuses=list(WorkflowStatus.__members__),
        workflow_names=names,
    )


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


routes = [
    Route("/login", login_form, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/static/{name}", static_file, methods=["GET"]),
    Route("/runs", runs_list, methods=["GET"]),
    Route("/runs/{workflow_id}", run_page, methods=["GET"]),
    *(_action_route(action) for action in ACTIONS),
    Route("/start", start_choice, methods=["GET"]),
    Route("/start/{name}", start_form, methods=["GET"]),
    Route("/start/{name}", start_run, methods=["POST"]),
]
