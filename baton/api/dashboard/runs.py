"""The runs list: status counts, filters, free-text search and paging, through the search the Conductor's
``/api/workflow/search`` runs (``service.search``); and its live part (counts, rows, pages) as a fragment that
``runs.js`` fetches again every few seconds while the tab is visible.

Filters are read from the address (a ``GET`` form), each checked here so a bad one is a 400 naming its field,
then said in the search's query language. Pages go from a run's place in the newest-first order (``older`` /
``newer``, a run's start time and id), not from an offset, so a page deep in a million runs costs what the
first does. The counts are one grouped count over the same filters but the status.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.dashboard.session import COOKIE_PATH, RUNS_PAGE
from baton.api.dashboard.templating import page
from baton.api.params import parse_int
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.model.access import Permission
from baton.model.runs import Workflow, WorkflowStatus
from baton.model.search_query import QueryError, free_text_terms
from baton.service import RunPosition, SearchParams

PAGE_SIZE = 25
LIVE_PATH = "/runs-live"
"""The fragment ``runs.js`` polls: what ``runs_live.html`` renders, for the same filters and page."""
_TEXT_FIELDS = {"workflowType": "workflow_type", "correlationId": "correlation_id", "entity": "entity"}


@dataclass(frozen=True, slots=True)
class RunFilters:
    """What the list is narrowed to, as the form sent it: times as ``datetime-local`` values read as UTC, runs
    started at or after ``started_after`` and before ``started_before``."""

    workflow_type: str = ""
    version: str = ""
    status: str = ""
    correlation_id: str = ""
    entity: str = ""
    started_after: str = ""
    started_before: str = ""
    free_text: str = ""

    @classmethod
    def of(cls, request: Request) -> RunFilters:
        """The filters in the address; a ``ValidationError`` naming every field that is wrong."""
        query = request.query_params
        filters = cls(
            workflow_type=query.get("workflowType", "").strip(),
            version=query.get("version", "").strip(),
            status=query.get("status", "").strip().upper(),
            correlation_id=query.get("correlationId", "").strip(),
            entity=query.get("entity", "").strip(),
            started_after=query.get("startedAfter", "").strip(),
            started_before=query.get("startedBefore", "").strip(),
            free_text=query.get("freeText", "").strip(),
        )
        filters.check()
        return filters

    def check(self) -> None:
        errors: list[FieldError] = []
        if self.version:
            try:
                parse_int(self.version, "version", minimum=1)
            except ValidationError as exc:
                errors.extend(exc.errors)
        if self.status and self.status not in WorkflowStatus.__members__:
            choices = ", ".join(WorkflowStatus.__members__)
            errors.append(FieldError("status", f"must be one of {choices}, got '{self.status[:40]}'"))
        for name, attribute in _TEXT_FIELDS.items():
            if len(getattr(self, attribute)) > 512:
                errors.append(FieldError(name, "must be at most 512 characters"))
        after = _utc_ms(self.started_after, "startedAfter", errors)
        before = _utc_ms(self.started_before, "startedBefore", errors)
        if after is not None and before is not None and after >= before:
            errors.append(FieldError("startedBefore", "must be later than startedAfter"))
        try:
            free_text_terms(self.free_text)
        except QueryError as exc:
            errors.append(FieldError("freeText", str(exc)))
        if errors:
            raise ValidationError(errors=errors)

    def query(self, *, with_status: bool = True) -> str | None:
        """The search's query text (Conductor's language); without the status for the counts."""
        parts = []
        if self.workflow_type:
            parts.append(f"workflowType = {_quoted(self.workflow_type)}")
        if self.version:
            parts.append(f"version = {int(self.version)}")
        if self.correlation_id:
            parts.append(f"correlationId = {_quoted(self.correlation_id)}")
        if self.entity:
            parts.append(f"entityId = {_quoted(self.entity)}")
        if self.started_after:
            parts.append(f"startTime >= {_utc_ms(self.started_after, 'startedAfter', [])}")
        if self.started_before:
            parts.append(f"startTime < {_utc_ms(self.started_before, 'startedBefore', [])}")
        if with_status and self.status:
            parts.append(f"status = {self.status}")
        return " AND ".join(parts) or None

    def fields(self) -> dict[str, str]:
        """The filters as the address names them, the empty ones left out."""
        named = {
            "workflowType": self.workflow_type,
            "version": self.version,
            "status": self.status,
            "correlationId": self.correlation_id,
            "entity": self.entity,
            "startedAfter": self.started_after,
            "startedBefore": self.started_before,
            "freeText": self.free_text,
        }
        return {name: value for name, value in named.items() if value}

    def link(self, **changes: str) -> str:
        """The list's address with these filters, some changed (``status=""`` drops it), from its first page
        unless a place (``older`` / ``newer``) is given."""
        fields = {**self.fields(), **changes}
        shown = {name: value for name, value in fields.items() if value}
        return f"{RUNS_PAGE}?{urlencode(shown)}" if shown else RUNS_PAGE

    @property
    def any(self) -> bool:
        return bool(self.fields())


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _utc_ms(text: str, name: str, errors: list[FieldError]) -> int | None:
    """A ``datetime-local`` value (``2026-12-06T13:05``, seconds optional) read as UTC, in epoch ms."""
    if not text:
        return None
    try:
        when = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S" if text.count(":") == 2 else "%Y-%m-%dT%H:%M")
    except ValueError:
        errors.append(FieldError(name, f"must be a date and time as YYYY-MM-DDTHH:MM (UTC), got '{text[:40]}'"))
        return None
    return int(when.replace(tzinfo=UTC).timestamp() * 1000)


def _position(request: Request, name: str) -> RunPosition | None:
    """A run's place in the list (``<start time ms>-<run id>``), from the address."""
    text = request.query_params.get(name, "").strip()
    if not text:
        return None
    start_time, _, workflow_id = text.partition("-")
    if not start_time.isascii() or not start_time.isdigit() or len(start_time) > 18 or not workflow_id:
        raise ValidationError(errors=[FieldError(name, f"must be a run's place in the list, got '{text[:60]}'")])
    return RunPosition(int(start_time), workflow_id)


def position_of(run: Workflow) -> str:
    """The run's place in the list, as ``_position`` reads it."""
    return f"{run.create_time}-{run.workflow_id}"


async def _listing(request: Request) -> dict[str, Any]:
    """What the list shows (counts, rows, links to the pages beside) for the address's filters and place."""
    filters = RunFilters.of(request)
    older, newer = _position(request, "older"), _position(request, "newer")
    if older is not None and newer is not None:
        raise ValidationError(errors=[FieldError("newer", "cannot be given with older")])
    search = service(request).search
    # One row more than shown tells whether more follow, so no count of the matches is needed.
    params = SearchParams(
        query=filters.query(),
        free_text=filters.free_text or None,
        size=PAGE_SIZE + 1,
        older_than=older,
        newer_than=newer,
        with_total=False,
    )
    found = (await search.runs(params)).results
    more = len(found) > PAGE_SIZE
    if newer is not None:
        runs, has_newer, has_older = found[-PAGE_SIZE:], more, True
    else:
        runs, has_newer, has_older = found[:PAGE_SIZE], older is not None, more
    counts = await search.run_status_counts(replace(params, query=filters.query(with_status=False)))
    total = counts[filters.status] if filters.status else sum(counts.values())
    return {
        "runs": runs,
        "counts": counts,
        "total": total,
        "filters": filters,
        "statuses": list(WorkflowStatus.__members__),
        "newer_link": filters.link(newer=position_of(runs[0])) if has_newer and runs else "",
        "older_link": filters.link(older=position_of(runs[-1])) if has_older and runs else "",
        "paged": older is not None or newer is not None,
        "live_link": _live_link(request),
    }


def _live_link(request: Request) -> str:
    """The live part's address for what this request shows: the same filters and place."""
    query = request.url.query
    return f"{COOKIE_PATH}{LIVE_PATH}?{query}" if query else f"{COOKIE_PATH}{LIVE_PATH}"


async def runs_list(request: Request) -> Response:
    listing = await _listing(request)
    names = sorted({definition.name for definition in await service(request).definitions.list_workflows()})
    return page(request, "runs.html", workflow_names=names, **listing)


async def runs_live(request: Request) -> Response:
    """The list's live part alone, for ``runs.js`` to put in place of the one shown."""
    return page(request, "runs_live.html", **await _listing(request))


RULES: dict[str, Permission] = {"GET /runs": Permission.READ, f"GET {LIVE_PATH}": Permission.READ}

routes = [Route("/runs", runs_list, methods=["GET"]), Route(LIVE_PATH, runs_live, methods=["GET"])]
