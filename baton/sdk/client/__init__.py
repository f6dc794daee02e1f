"""HTTP clients for Baton's REST API (Conductor's routes and shapes).

``BatonClient`` is synchronous, ``AsyncBatonClient`` is its asyncio twin; both
describe each route once as a ``Call`` (method, path, query, headers, body and
how to read the answer) and differ only in how they send it. Each keeps one
``httpx`` client so connections are reused.

A non-2xx answer raises ``BatonApiError``; a request that never got an answer
(refused, reset, timed out) raises ``BatonConnectionError``, which callers that
must not lose a request (the worker runner) retry.

The package keeps one job per module: ``errors`` (what the clients raise),
``results`` (answer shapes outside ``baton.model``), ``calls`` (a request
described once, and sending helpers), ``routes`` (every route as a ``Call``),
``sync_client`` and ``async_client``.
"""

from baton.sdk.client.async_client import AsyncBatonClient
from baton.sdk.client.errors import BatonApiError, BatonConnectionError
from baton.sdk.client.results import ExecuteResult, SearchResult, WorkflowRun, WorkflowStatusSummary
from baton.sdk.client.sync_client import BatonClient

__all__ = [
    "AsyncBatonClient",
    "BatonApiError",
    "BatonClient",
    "BatonConnectionError",
    "ExecuteResult",
    "SearchResult",
    "WorkflowRun",
    "WorkflowStatusSummary",
]
