"""Finding runs and tasks: ``/api/workflow/search[-v2]``, ``/api/workflow/running/{name}``, ``/api/tasks/search[-v2]``.

The answer of a search is Conductor's ``SearchResult``: ``{"totalHits": n, "results": [...]}``
of ``WorkflowSummary`` / ``TaskSummary`` (``-v2``: whole ``Workflow`` headers without their
tasks, and whole ``Task`` objects). ``/api/workflow/{workflow_id}`` and ``/api/tasks/{task_id}`` leave these
words to them.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.conductor.streaming import json_answer, object_pieces
from baton.api.params import int_param, optional_int_param
from baton.api.responses import JSONResponse
from baton.api.state import service
from baton.model import Workflow
from baton.model.codec import to_builtins
from baton.model.summaries import task_summary, workflow_summary
from baton.service import SearchParams
from baton.service.search import DEFAULT_SEARCH_SIZE


def _params(request: Request) -> SearchParams:
    query = request.query_params
    return SearchParams(
        query=query.get("query"),
        free_text=query.get("freeText"),
        sort=query.get("sort"),
        start=int_param(request, "start", 0),
        size=int_param(request, "size", DEFAULT_SEARCH_SIZE),
    )


def _result(total_hits: int, results: list[Any]) -> Response:
    return JSONResponse({"totalHits": total_hits, "results": results})


def _render_header(run: Workflow) -> dict[str, Any]:
    rendered: dict[str, Any] = to_builtins(run)
    rendered["workflowType"] = run.workflow_name
    return rendered


async def search_workflows(request: Request) -> Response:
    page = await service(request).search.runs(_params(request))
    return _result(page.total_hits, [workflow_summary(run) for run in page.results])


async def search_workflows_v2(request: Request) -> Response:
    """Whole run headers, each rendered as it is encoded: a page of large ones is streamed (``streaming.py``)."""
    page = await service(request).search.runs(_params(request))
    head = {"totalHits": page.total_hits}
    return await json_answer(object_pieces(head, "results", page.results, render=_render_header))


async def search_tasks(request: Request) -> Response:
    page = await service(request).search.tasks(_params(request))
    return _result(page.total_hits, [task_summary(task) for task in page.results])


async def search_tasks_v2(request: Request) -> Response:
    page = await service(request).search.tasks(_params(request))
    return _result(page.total_hits, page.results)


async def running(request: Request) -> Response:
    ids = await service(request).search.running_ids(
        request.path_params["name"],
        version=optional_int_param(request, "version"),
        start_from=optional_int_param(request, "startTime"),
        start_to=optional_int_param(request, "endTime"),
    )
    return JSONResponse(ids)


routes = [
    Route("/workflow/search", search_workflows, methods=["GET"]),
    Route("/workflow/search-v2", search_workflows_v2, methods=["GET"]),
    Route("/workflow/running/{name}", running, methods=["GET"]),
    Route("/tasks/search", search_tasks, methods=["GET"]),
    Route("/tasks/search-v2", search_tasks_v2, methods=["GET"]),
]
