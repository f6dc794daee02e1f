"""Cases: the queues (Ballerine's saved filters) with their counts, a queue's cases page by page, a case's page
(its entity, its documents shown inline, its decisions) and a reviewer's actions on it: assign, and approve,
reject or ask for a revision on the case or on one document. All through ``service.cases``, which also keeps a
REVIEWER key to the cases of its queues. "Add case manually" is ``cases_add.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from baton.api.dashboard import cases_add
from baton.api.dashboard.case_documents import DocumentView, document_views
from baton.api.dashboard.forms import check_csrf, read_form
from baton.api.dashboard.session import COOKIE_PATH
from baton.api.dashboard.templating import page
from baton.api.params import int_param
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.model.access import Permission
from baton.model.audit import AuditQuery, TargetKind
from baton.model.cases import CASE_STATES, DECISIONS
from baton.service.acting import current_principal
from baton.service.cases import CaseListArgs

CASES_PAGE = f"{COOKIE_PATH}/cases"
PAGE_SIZE = 20
HISTORY_SIZE = 100
"""The most recent entries of a case's activity its page shows."""
REASON_REQUIRED = ("reject", "revision")
DONE = {
    "assigned": "The case is assigned to you.",
    "unassigned": "The case is no longer assigned.",
    "approve": "The case is approved.",
    "reject": "The case is rejected.",
    "revision": "A revision of the case was asked for.",
    "document": "The document's decision is saved.",
    "created": "The case was added.",
}
"""What a case's page says after each action (only ever one of these words is read from the address)."""
CASE_PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data: https: http:; object-src 'self' data: https: http:; "
    "frame-src 'self' data: https: http:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
)
"""A case's page shows its documents where they are (data: URLs or remote ones): images, and PDFs in objects."""


@dataclass(frozen=True, slots=True)
class Queue:
    """One entry of the queue list: a saved filter, or every case (``filter_id`` None), with its open cases."""

    filter_id: str | None
    name: str
    entity: str
    open_count: int

    @property
    def link(self) -> str:
        return CASES_PAGE if self.filter_id is None else f"{CASES_PAGE}?{urlencode({'queue': self.filter_id})}"


@dataclass(frozen=True, slots=True)
class ListView:
    """What the list shows: the queue, a state among its cases, a search, and the page."""

    queue: str | None
    state: str
    search: str
    page_number: int

    def link(self, **changes: str | int) -> str:
        fields: dict[str, str | int] = {
            "queue": self.queue or "",
            "state": self.state,
            "search": self.search,
            "page": self.page_number,
            **changes,
        }
        return f"{CASES_PAGE}?{urlencode({k: v for k, v in fields.items() if v not in ('', 1)})}"


def _every_queue() -> bool:
    principal = current_principal()
    return principal is None or principal.decides_in_every_queue


async def _count(request: Request, filter_id: str | None, **narrowed: Any) -> int:
    listed = await service(request).cases.list_cases(CaseListArgs(filter_id=filter_id, page_size=1, **narrowed))
    return listed.page.total


async def _queues(request: Request) -> list[Queue]:
    """Every case the acting key sees ("All cases"; a REVIEWER of some queues: those queues' cases), then the saved
    filters it sees cases of (for that REVIEWER, those listing its queues' cases), each with its open cases."""
    cases = service(request).cases
    every = _every_queue()
    everything = "All cases" if every else "All my queues"
    queues = [Queue(None, everything, "", await _count(request, None, statuses=["active"]))]
    for saved in await cases.filters():
        if every or await cases.case_definitions(saved.filter_id):
            open_count = await _count(request, saved.filter_id, statuses=["active"])
            queues.append(Queue(saved.filter_id, saved.name, saved.entity, open_count))
    return queues


def _list_view(request: Request) -> ListView:
    params = request.query_params
    state = params.get("state", "").strip()
    if state and state not in CASE_STATES:
        raise ValidationError(errors=[FieldError("state", f"must be one of {', '.join(CASE_STATES)}")])
    return ListView(
        queue=params.get("queue", "").strip() or None,
        state=state,
        search=params.get("search", "").strip(),
        page_number=int_param(request, "page", 1, minimum=1),
    )


async def cases_list(request: Request) -> Response:
    cases = service(request).cases
    view = _list_view(request)
    chosen = None if view.queue is None else await cases.get_filter(view.queue)
    listed = await cases.list_cases(
        CaseListArgs(
            filter_id=view.queue,
            page_number=view.page_number,
            page_size=PAGE_SIZE,
            search=view.search or None,
            states=[view.state] if view.state else None,
        )
    )
    counts = {state: await _count(request, view.queue, states=[state]) for state in CASE_STATES}
    return page(
        request,
        "cases.html",
        queues=await _queues(request),
        chosen=chosen,
        view=view,
        listed=listed,
        counts=counts,
        addable=await cases.case_definitions(view.queue),
        size=PAGE_SIZE,
    )


async def case_page(request: Request) -> Response:
    baton = service(request)
    workflow_id = request.path_params["workflow_id"]
    case = await baton.cases.get(workflow_id)
    runtime = case.runtime
    history = await baton.audit.entries(
        AuditQuery(target_kind=TargetKind.CASE.value, target_id=workflow_id, limit=HISTORY_SIZE)
    )
    principal = current_principal()
    entity = runtime.context.get("entity")
    documents: list[DocumentView] = document_views(runtime.context.get("documents"))
    done = request.query_params.get("done", "")
    response = page(
        request,
        "case.html",
        case=case,
        run=runtime.run,
        record=runtime.record,
        entity=entity if isinstance(entity, dict) else {},
        documents=documents,
        history=history.results,
        may_decide_here=principal is not None
        and principal.may(Permission.CASE_DECIDE)
        and principal.may_decide_in(case.queue),
        me=principal.key_id if principal is not None else "",
        awaiting_review=runtime.state == "manual_review",
        decisions=DECISIONS,
        done=DONE.get(done, ""),
    )
    response.headers["content-security-policy"] = CASE_PAGE_POLICY
    return response


def _me() -> str:
    principal = current_principal()
    return principal.key_id if principal is not None else ""


def _decision_fields(form: dict[str, str]) -> tuple[str, str | None]:
    """The decision and its reason as the form sends them: a reason is required to reject or ask for a revision."""
    decision = form.get("decision", "").strip()
    reason = form.get("reason", "").strip() or None
    if decision not in DECISIONS:
        raise ValidationError(errors=[FieldError("decision", f"is required: one of {', '.join(DECISIONS)}")])
    if decision in REASON_REQUIRED and reason is None:
        message = f"is required to {'reject' if decision == 'reject' else 'ask for a revision'}"
        raise ValidationError(errors=[FieldError("reason", message)])
    return decision, reason


def _back(workflow_id: str, done: str) -> Response:
    return RedirectResponse(f"{CASES_PAGE}/{workflow_id}?done={done}", status_code=303)


async def assign(request: Request) -> Response:
    """``to=me`` assigns the case to the acting key, ``to=nobody`` unassigns it."""
    await check_csrf(request)
    to = (await read_form(request)).get("to", "")
    if to not in ("me", "nobody"):
        raise ValidationError(errors=[FieldError("to", "must be 'me' or 'nobody'")])
    workflow_id = request.path_params["workflow_id"]
    await service(request).cases.assign(workflow_id, _me() if to == "me" else None)
    return _back(workflow_id, "assigned" if to == "me" else "unassigned")


async def decide(request: Request) -> Response:
    await check_csrf(request)
    decision, reason = _decision_fields(await read_form(request))
    workflow_id = request.path_params["workflow_id"]
    try:
        await service(request).cases.decide(workflow_id, decision, reason, _me())
    except ValidationError as exc:
        # The service names its argument ("name", Ballerine's); the form's field is "decision".
        named = [FieldError("decision", e.message) if e.path == "name" else e for e in exc.errors]
        raise ValidationError(exc.message, named) from None
    return _back(workflow_id, decision)


async def decide_document(request: Request) -> Response:
    await check_csrf(request)
    form = await read_form(request)
    decision, reason = _decision_fields(form)
    workflow_id = request.path_params["workflow_id"]
    comment = form.get("comment", "").strip() or None
    await service(request).cases.decide_document(
        workflow_id, request.path_params["document_id"], decision, reason, comment
    )
    return _back(workflow_id, "document")


RULES: dict[str, Permission] = {
    "GET /cases": Permission.CASE_READ,
    "GET /cases/{workflow_id}": Permission.CASE_READ,
    "POST /cases/{workflow_id}/assign": Permission.CASE_DECIDE,
    "POST /cases/{workflow_id}/decide": Permission.CASE_DECIDE,
    "POST /cases/{workflow_id}/documents/{document_id}/decide": Permission.CASE_DECIDE,
    **cases_add.RULES,
}

routes = [
    Route("/cases", cases_list, methods=["GET"]),
    *cases_add.routes,
    Route("/cases/{workflow_id}", case_page, methods=["GET"]),
    Route("/cases/{workflow_id}/assign", assign, methods=["POST"]),
    Route("/cases/{workflow_id}/decide", decide, methods=["POST"]),
    Route("/cases/{workflow_id}/documents/{document_id}/decide", decide_document, methods=["POST"]),
]
