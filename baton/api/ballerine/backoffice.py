"""Ballerine's back office: the case list and one case (``/api/v1/internal/workflows``), assignment, a reviewer's
decisions, saved filters (``/filters``) and "add case manually" (``/case-management``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from baton.api.ballerine.external import object_body
from baton.api.ballerine.views import case_view, filter_view, summary_view
from baton.api.params import parse_int
from baton.api.responses import JSONResponse
from baton.api.routing import NarrowedRoute
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.service.cases import CaseListArgs


def _page_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    return default if raw is None or raw == "" else parse_int(raw, name)


def _listed(request: Request, name: str) -> list[str] | None:
    """``filter[name][]=a&filter[name][]=b`` (or ``filter[name]=a``) as a list; None when absent."""
    values = request.query_params.getlist(f"filter[{name}][]") + request.query_params.getlist(f"filter[{name}]")
    return values or None


async def list_cases(request: Request) -> Response:
    params = request.query_params
    assignees = _listed(request, "assigneeId")
    args = CaseListArgs(
        filter_id=params.get("filterId") or None,
        page_number=_page_param(request, "page[number]", 1),
        page_size=_page_param(request, "page[size]", 20),
        search=params.get("search") or None,
        order_by=params.get("orderBy") or None,
        queue=params.get("filter[queue]") or None,
        states=_listed(request, "caseStatus"),
        assignee=assignees[0] if assignees and len(assignees) == 1 else None,
        statuses=_listed(request, "status"),
        workflow=params.get("filter[workflowId]") or None,
    )
    if assignees and len(assignees) > 1:
        raise ValidationError(errors=[FieldError("filter[assigneeId]", "must name one user ('' for the unassigned)")])
    listed = await service(request).cases.list_cases(args)
    return JSONResponse(
        {
            "data": [summary_view(item) for item in listed.page.items],
            "meta": {"totalItems": listed.page.total, "totalPages": listed.total_pages},
        }
    )


async def get_case(request: Request) -> Response:
    return JSONResponse(case_view(await service(request).cases.get(request.path_params["workflow_id"])))


async def assign(request: Request) -> Response:
    body = await object_body(request)
    case = await service(request).cases.assign(request.path_params["workflow_id"], body.get("assigneeId"))
    return JSONResponse(case_view(case))


async def event_decision(request: Request) -> Response:
    body = await object_body(request)
    case = await service(request).cases.decide(
        request.path_params["workflow_id"], body.get("name"), body.get("reason"), body.get("reviewer")
    )
    return JSONResponse(case_view(case))


async def document_decision(request: Request) -> Response:
    body = await object_body(request)
    case = await service(request).cases.decide_document(
        request.path_params["workflow_id"],
        request.path_params["document_id"],
        body.get("decision"),
        body.get("reason"),
        body.get("comment"),
    )
    return JSONResponse(case_view(case))


async def list_filters(request: Request) -> Response:
    return JSONResponse([filter_view(saved) for saved in await service(request).cases.filters()])


async def add_filter(request: Request) -> Response:
    body = await object_body(request)
    saved = await service(request).cases.add_filter(body.get("name"), body.get("entity"), body.get("query"))
    return JSONResponse(filter_view(saved), status_code=201)


async def get_filter(request: Request) -> Response:
    return JSONResponse(filter_view(await service(request).cases.get_filter(request.path_params["filter_id"])))


async def create_case(request: Request) -> Response:
    body = await object_body(request)
    started = await service(request).cases.create(body.get("workflowId"), body.get("context"))
    return JSONResponse(
        {
            "workflowDefinitionId": started.workflow_name,
            "workflowRuntimeId": started.workflow_id,
            "ballerineEntityId": started.entity.entity_id,
        },
        status_code=201,
    )


routes: list[BaseRoute] = [
    Route("/internal/workflows", list_cases, methods=["GET"]),
    Route("/internal/workflows/{workflow_id}", get_case, methods=["GET"]),
    Route("/internal/workflows/assign/{workflow_id}", assign, methods=["PATCH"]),
    NarrowedRoute(
        "/internal/workflows/{workflow_id}/event-decision",
        event_decision,
        methods=["PATCH"],
        reserved={"workflow_id": ["assign"]},
    ),
    Route("/internal/workflows/{workflow_id}/decision/{document_id}", document_decision, methods=["PATCH"]),
    Route("/filters", list_filters, methods=["GET"]),
    Route("/filters", add_filter, methods=["POST"]),
    Route("/filters/{filter_id}", get_filter, methods=["GET"]),
    Route("/case-management", create_case, methods=["POST"]),
]
