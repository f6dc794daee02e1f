"""The runs list: status counts, filters, free-text search and paging, through the search Conductor's
``/api/workflow/search`` runs (``service.search``)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.dashboard.session import RUNS_PAGE
from baton.api.dashboard.templating import page
from baton.api.params import int_param
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.model.access import Permission
from baton.model.runs import WorkflowStatus
from baton.service import SearchParams

PAGE_SIZE = 25


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


RULES: dict[str, Permission] = {"GET /runs": Permission.READ}

routes = [Route("/runs", runs_list, methods=["GET"])]
