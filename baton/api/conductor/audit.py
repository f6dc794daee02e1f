"""``GET /api/audit``: the audit log, newest first (ADMIN only: Permission MANAGE).

Filters (each optional, all must match): ``actor``, ``action``, ``targetKind``, ``targetId``, ``since`` and
``until`` (epoch ms, ``since`` included, ``until`` not), and paging: ``limit`` (1-1000, default 100) and
``before`` (the previous page's ``nextBefore``).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.params import INT64_MAX, int_param, optional_int_param
from baton.api.responses import JSONResponse
from baton.api.state import service
from baton.model.audit import AuditQuery
from baton.service.audit import MAX_PAGE


async def audit_entries(request: Request) -> Response:
    params = request.query_params

    def timestamp(name: str) -> int | None:
        return optional_int_param(request, name, minimum=0, maximum=INT64_MAX)

    query = AuditQuery(
        actor=params.get("actor") or None,
        action=params.get("action") or None,
        target_kind=params.get("targetKind") or None,
        target_id=params.get("targetId") or None,
        since=timestamp("since"),
        until=timestamp("until"),
        before=timestamp("before"),
        limit=int_param(request, "limit", 100, minimum=1, maximum=MAX_PAGE),
    )
    return JSONResponse(await service(request).audit.entries(query))


routes = [Route("/audit", audit_entries, methods=["GET"])]
