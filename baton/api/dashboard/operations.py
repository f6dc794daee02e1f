"""Operations: an overview, the task queues with their workers' last polls, and the last hour's charts; beside
them ``ops_webhooks.py`` (webhook deliveries, redelivery) and ``ops_keys.py`` (applications, keys, the audit log),
whose routes and rules are composed here.

The charts are SVG drawn on the server (``ops_svg.py``) from ``service.metrics`` (per-minute counts in SQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.dashboard import ops_keys, ops_webhooks
from baton.api.dashboard.ops_svg import Series, line_chart
from baton.api.dashboard.templating import page
from baton.api.state import service
from baton.model import PollData
from baton.model.access import Permission


@dataclass(frozen=True, slots=True)
class Queue:
    """A task type: how many of its tasks wait in the queue, and its workers' last polls (newest first)."""

    task_type: str
    depth: int
    polls: list[PollData]

    @property
    def last_poll(self) -> int:
        return max((poll.last_poll_time for poll in self.polls), default=0)


async def overview(request: Request) -> Response:
    return page(request, "operations.html")


async def queues(request: Request) -> Response:
    tasks = service(request).tasks
    depths = await tasks.queue_sizes(None)
    polls: dict[str, list[PollData]] = {}
    for poll in await tasks.poll_data(None):
        polls.setdefault(poll.queue_name, []).append(poll)
    found = [
        Queue(task_type, depths.get(task_type, 0), sorted(polls.get(task_type, []), key=lambda p: -p.last_poll_time))
        for task_type in sorted(set(depths) | set(polls))
    ]
    return page(request, "operations_queues.html", queues=found)


def _minute(epoch_ms: int) -> str:
    return datetime.fromtimestamp(epoch_ms / 1000, UTC).strftime("%H:%M")


async def charts(request: Request) -> Response:
    hour = await service(request).metrics.last_hour()
    labels = [_minute(minute.minute_start) for minute in hour.runs]
    runs_chart = line_chart(
        "Runs per minute over the last hour: started, completed and failed",
        [
            Series("started", "Started", [m.started for m in hour.runs]),
            Series("completed", "Completed", [m.completed for m in hour.runs]),
            Series("failed", "Failed", [m.failed for m in hour.runs]),
        ],
        labels,
    )
    latency_chart = line_chart(
        "Step durations per minute over the last hour: p50, p95 and p99, in milliseconds",
        [
            Series("p50", "p50", [m.latency.p50 for m in hour.latency]),
            Series("p95", "p95", [m.latency.p95 for m in hour.latency]),
            Series("p99", "p99", [m.latency.p99 for m in hour.latency]),
        ],
        labels,
        "{:g} ms",
    )
    return page(
        request,
        "operations_charts.html",
        hour=hour,
        runs_chart=runs_chart,
        latency_chart=latency_chart,
        totals={
            "started": sum(m.started for m in hour.runs),
            "completed": sum(m.completed for m in hour.runs),
            "failed": sum(m.failed for m in hour.runs),
            "steps": sum(m.latency.count for m in hour.latency),
        },
        since=_minute(hour.since),
        until=_minute(hour.until),
    )


RULES: dict[str, Permission] = {
    "GET /operations": Permission.READ,
    "GET /operations/queues": Permission.READ,
    "GET /operations/charts": Permission.READ,
    **ops_webhooks.RULES,
    **ops_keys.RULES,
}

routes: list[Route] = [
    Route("/operations", overview, methods=["GET"]),
    Route("/operations/queues", queues, methods=["GET"]),
    Route("/operations/charts", charts, methods=["GET"]),
    *ops_webhooks.routes,
    *ops_keys.routes,
]
