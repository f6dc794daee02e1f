"""Finding runs and tasks: search, the ids of running runs, and retention's deletion of old finished runs.

Choices where Conductor leaves room or Baton differs:

* ``size`` is at most ``MAX_SEARCH_SIZE`` (5,000, Conductor's default bound); a larger one is
  a 400 that says to page with ``start``. The default is 100.
* ``totalHits`` is exact up to ``TOTAL_HITS_CAP`` (10,000) and that number beyond, as
  Elasticsearch reports by default; counting a million rows on every page would not
  fit a search's time budget.
* With no ``sort``, runs come newest first; tasks come by their run, newest run first,
  then in the order they were scheduled.
* ``/api/workflow/running/{name}`` without ``version`` lists every version (Conductor
  defaults to version 1).
"""

from __future__ import annotations

from dataclasses import dataclass

from baton.errors import FieldError, ValidationError
from baton.model.runs import WorkflowStatus
from baton.model.search_query import (
    TASK_FIELDS,
    WORKFLOW_FIELDS,
    Query,
    QueryError,
    Schema,
    SortKey,
    free_text_terms,
    parse_query,
    parse_sort,
)
from baton.service.context import ServiceContext
from baton.store import RunPage, RunPosition, SearchRequest, SearchStore, TaskPage

MAX_SEARCH_SIZE = 5000
DEFAULT_SEARCH_SIZE = 100
DAY_MS = 86_400_000


@dataclass(frozen=True, kw_only=True)
class SearchParams:
    """A search as a client sends it: the raw texts and numbers, not yet checked."""

    query: str | None = None
    free_text: str | None = None
    sort: str | None = None
    start: int = 0
    size: int = DEFAULT_SEARCH_SIZE
    older_than: RunPosition | None = None
    """Runs only, with no ``sort``: the runs after this one, newest first (paging deep at an index's cost)."""
    newer_than: RunPosition | None = None
    """Runs only, with no ``sort``: the runs just before this one, newest first."""
    with_total: bool = True
    """False: no count (``total_hits`` is only ``start`` and the rows returned)."""


def _request(params: SearchParams, schema: Schema) -> SearchRequest:
    errors: list[FieldError] = []
    query = None
    sort: tuple[SortKey, ...] = ()
    try:
        query = parse_query(params.query, schema)
    except QueryError as exc:
        errors.append(FieldError("query", str(exc)))
    try:
        sort = parse_sort(params.sort, schema)
    except QueryError as exc:
        errors.append(FieldError("sort", str(exc)))
    free_text: tuple[str, ...] = ()
    try:
        free_text = free_text_terms(params.free_text)
    except QueryError as exc:
        errors.append(FieldError("freeText", str(exc)))
    if params.start < 0:
        errors.append(FieldError("start", "must not be negative"))
    if params.size < 0:
        errors.append(FieldError("size", "must not be negative"))
    elif params.size > MAX_SEARCH_SIZE:
        errors.append(FieldError("size", f"must be at most {MAX_SEARCH_SIZE}: page with start"))
    if params.older_than is not None and params.newer_than is not None:
        errors.append(FieldError("newer_than", "cannot be given with older_than"))
    if (params.older_than is not None or params.newer_than is not None) and params.sort:
        errors.append(FieldError("sort", "cannot be given with a run to page from (the order is newest first)"))
    if errors:
        raise ValidationError(errors=errors)
    return SearchRequest(
        query=query,
        free_text=free_text,
        sort=sort,
        start=params.start,
        size=params.size,
        older_than=params.older_than,
        newer_than=params.newer_than,
        with_total=params.with_total,
    )


class SearchService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._store: SearchStore = ctx.store

    async def runs(self, params: SearchParams) -> RunPage:
        """Run headers (no tasks) matching the search."""
        return await self._store.search_runs(_request(params, WORKFLOW_FIELDS))

    async def run_status_counts(self, params: SearchParams) -> dict[str, int]:
        """How many runs match the search's query and free text in each status (every status, exactly), counted
        in one grouped statement; its order and page are not read."""
        counted = await self._store.count_runs_by_status(_request(params, WORKFLOW_FIELDS))
        return {status.value: counted.get(status.value, 0) for status in WorkflowStatus}

    async def runs_matching(
        self,
        query: Query | None,
        *,
        free_text: str | None = None,
        sort: tuple[SortKey, ...] = (),
        start: int = 0,
        size: int = DEFAULT_SEARCH_SIZE,
    ) -> RunPage:
        """Run headers matching a query already built (another surface's filters), on the bounds of ``runs``."""
        errors: list[FieldError] = []
        words: tuple[str, ...] = ()
        try:
            words = free_text_terms(free_text)
        except QueryError as exc:
            errors.append(FieldError("searchTerm", str(exc)))
        if start < 0:
            errors.append(FieldError("start", "must not be negative"))
        if not 0 <= size <= MAX_SEARCH_SIZE:
            errors.append(FieldError("size", f"must be between 0 and {MAX_SEARCH_SIZE}"))
        if errors:
            raise ValidationError(errors=errors)
        request = SearchRequest(query=query, free_text=words, sort=sort, start=start, size=size)
        return await self._store.search_runs(request)

    async def tasks(self, params: SearchParams) -> TaskPage:
        return await self._store.search_tasks(_request(params, TASK_FIELDS))

    async def running_ids(
        self, name: str, *, version: int | None = None, start_from: int | None = None, start_to: int | None = None
    ) -> list[str]:
        """Ids of the RUNNING runs of ``name``, oldest first; the bounds are on their start time (ms, inclusive)."""
        errors: list[FieldError] = []
        if not name.strip():
            errors.append(FieldError("name", "is required"))
        if version is not None and version < 0:
            errors.append(FieldError("version", "must not be negative"))
        if start_from is not None and start_to is not None and start_from > start_to:
            errors.append(FieldError("startTime", "must not be after endTime"))
        if errors:
            raise ValidationError(errors=errors)
        return await self._store.running_run_ids(name, version=version, start_from=start_from, start_to=start_to)

    async def delete_finished(self, retention_days: float, *, batch: int) -> int:
        """One batch of retention: runs that ended more than ``retention_days`` ago; returns how many went."""
        cutoff = self._ctx.clock() - int(retention_days * DAY_MS)
        return await self._store.delete_finished_before(cutoff, batch)
