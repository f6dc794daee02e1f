"""``/workflow-instances`` (list, GET or POST, and one), ``/cancel/...`` and ``/bulk-actions/cancel/...``.

The list's filters become a search of runs (``SearchService.runs_matching``); what only a run's
steps tell (the sub-statuses ``Executing`` and ``Suspended`` told apart, ``hasIncidents``) is
decided per run over at most ``SCAN_CAP`` of the newest candidates. Without ``pageSize`` the list
holds the first ``MAX_PAGE_SIZE`` items (Elsa's "all"); ``totalCount`` still counts every match,
up to the search's cap. Cancelling a run that has ended is a 409 naming its status; a bulk cancel
counts the runs it ended and passes over the others.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from baton.api.elsa.filters import MAX_PAGE_SIZE, SCAN_CAP, InstanceFilter, filter_from, running_of
from baton.api.elsa.requests import elsa_body, text_field, version_of
from baton.api.elsa.states import INCIDENT_STATUSES, incident_count, instance, sub_status_of, summary
from baton.api.responses import JSONResponse
from baton.api.state import service
from baton.errors import ConflictError, FieldError, NotFoundError, ValidationError
from baton.model import TaskStatus, Workflow
from baton.service import Baton

MAX_BULK_IDS = 1000
_PENDING = (TaskStatus.SCHEDULED, TaskStatus.IN_PROGRESS)


async def list_get(request: Request) -> Response:
    query = request.query_params
    raw: dict[str, Any] = {key: query.get(key) for key in query if key not in ("definitionIds", "statuses")}
    for key in ("definitionIds", "statuses", "subStatuses"):
        values = [part.strip() for given in query.getlist(key) for part in given.split(",") if part.strip()]
        raw[key] = values or None
    return await _list(request, filter_from(raw, from_query=True))


async def list_post(request: Request) -> Response:
    return await _list(request, filter_from(await elsa_body(request), from_query=False))


async def _list(request: Request, wanted: InstanceFilter) -> Response:
    baton = service(request)
    if wanted.nothing:
        return JSONResponse({"items": [], "totalCount": 0})
    if not wanted.per_run:
        page = await baton.search.runs_matching(
            wanted.query, free_text=wanted.search_term, sort=wanted.sort, start=wanted.start, size=wanted.size
        )
        items = [await _summary(baton, run, wanted) for run in page.results]
        return JSONResponse({"items": [item for item, _ in items], "totalCount": page.total_hits})
    candidates = await baton.search.runs_matching(
        wanted.query, free_text=wanted.search_term, sort=wanted.sort, start=0, size=SCAN_CAP
    )
    kept = []
    for run in candidates.results:
        item, matches = await _summary(baton, run, wanted)
        if matches:
            kept.append(item)
    return JSONResponse({"items": kept[wanted.start : wanted.start + wanted.size], "totalCount": len(kept)})


async def _summary(baton: Baton, run: Workflow, wanted: InstanceFilter) -> tuple[dict[str, Any], bool]:
    """The run's summary, from its pending steps and task counts; and whether it passes the per-run filters.

    A read on SQLite may finish without giving the loop a turn: each summary gives it one, so a list of a
    thousand runs (about 0.2 ms each) never holds it."""
    await asyncio.sleep(0)
    page = await baton.runs.task_page(run.workflow_id, start=0, count=100, statuses=_PENDING)
    run = msgspec.structs.replace(run, tasks=page.results)
    failed = sum(page.summary.get(status.value, 0) for status in INCIDENT_STATUSES)
    incidents = incident_count(run, failed)
    matches = wanted.sub_statuses is None or sub_status_of(run) in wanted.sub_statuses
    if wanted.has_incidents is not None:
        matches = matches and (incidents > 0) == wanted.has_incidents
    return summary(run, incidents), matches


async def get_one(request: Request) -> Response:
    run = await service(request).runs.get(request.path_params["instance_id"], include_tasks=True)
    return JSONResponse(instance(run))


async def cancel(request: Request) -> Response:
    """Terminate the run; one that has ended already is a 409 naming its status."""
    runs = service(request).runs
    workflow_id = request.path_params["instance_id"]
    run = await runs.get(workflow_id, include_tasks=False)
    if run.status.is_terminal:
        raise ConflictError(f"Workflow instance {workflow_id} has already finished ({run.status.value})")
    await runs.terminate(workflow_id, "Cancelled through Elsa's API")
    return Response(status_code=200)


async def bulk_cancel(request: Request) -> Response:
    """``{ids}`` and/or ``{definitionId, versionOptions}`` or ``{definitionVersionId}``: ``{"cancelled": n}``."""
    baton = service(request)
    body = await elsa_body(request)
    ids = _ids(body.get("ids"))
    definition_id = text_field(body, "definitionId")
    has_versions = body.get("versionOptions") is not None
    if (definition_id is None) != (not has_versions):
        message = "definitionId and versionOptions go together: give both or neither"
        raise ValidationError(errors=[FieldError("versionOptions" if definition_id else "definitionId", message)])
    targets: list[tuple[str, int | None]] = []
    if definition_id is not None:
        targets.append((definition_id, version_of(body.get("versionOptions"))))
    version_id = text_field(body, "definitionVersionId")
    if version_id is not None:
        targets.append(_split_version_id(version_id))
    cancelled = 0
    for workflow_id in dict.fromkeys(ids):
        cancelled += await _cancel_quietly(baton, workflow_id)
    for name, version in targets:
        cancelled += await _cancel_all_of(baton, name, version)
    return JSONResponse({"cancelled": cancelled})


def _ids(raw: Any) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise ValidationError(errors=[FieldError("ids", "must be a list of workflow instance ids")])
    if len(raw) > MAX_BULK_IDS:
        raise ValidationError(errors=[FieldError("ids", f"must list at most {MAX_BULK_IDS} ids")])
    return raw


def _split_version_id(value: str) -> tuple[str, int | None]:
    name, _, version = value.rpartition(":")
    if not name or not version.isascii() or not version.isdigit():
        message = f"must be '<definitionId>:<version>', got '{value[:80]}'"
        raise ValidationError(errors=[FieldError("definitionVersionId", message)])
    return name, int(version)


async def _cancel_quietly(baton: Baton, workflow_id: str) -> int:
    """1 when this ended the run; 0 when it had ended already or does not exist."""
    try:
        await baton.runs.terminate(workflow_id, "Cancelled through Elsa's API")
    except (NotFoundError, ConflictError):
        return 0
    return 1


async def _cancel_all_of(baton: Baton, name: str, version: int | None) -> int:
    cancelled = 0
    seen: set[str] = set()
    while True:
        page = await baton.search.runs_matching(running_of(name, version), size=MAX_PAGE_SIZE)
        fresh = [run.workflow_id for run in page.results if run.workflow_id not in seen]
        if not fresh:
            return cancelled
        for workflow_id in fresh:
            seen.add(workflow_id)
            cancelled += await _cancel_quietly(baton, workflow_id)
