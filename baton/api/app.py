"""The ASGI application: routes, error mapping, body limit, and the lifespan that opens the store."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api import bulk, metadata, search, tasks, workflows
from baton.api.limits import BodyReadTimeout, PayloadTooLarge, RequestLimits
from baton.api.responses import JSONResponse, baton_error_response, error_response
from baton.config import Settings
from baton.errors import BatonError, StoreError
from baton.runtime.executors import Executors
from baton.runtime.notifier import Notifier
from baton.runtime.pg_notifier import PostgresNotifier
from baton.runtime.relay import OutboxRelay
from baton.runtime.retention import Retention
from baton.runtime.sweeper import Sweeper
from baton.sandbox.sandbox import Sandbox
from baton.service import Baton
from baton.store import open_store

log = logging.getLogger(__name__)


async def health(request: Request) -> Response:
    return JSONResponse({"healthy": True})


async def _on_baton_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BatonError)
    if isinstance(exc, PayloadTooLarge | BodyReadTimeout):
        # The rest of the body may still be on its way: answer, then close the connection.
        status = 413 if isinstance(exc, PayloadTooLarge) else 408
        response = error_response(status, exc.message, [{"path": "body", "message": exc.message}])
        response.headers["connection"] = "close"
        return response
    if isinstance(exc, StoreError):
        log.error("store failure on %s %s: %s", request.method, request.url.path, exc)
    return baton_error_response(exc)


async def _on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return error_response(404, f"No route for {request.method} {request.url.path}")
    if exc.status_code == 405:
        return error_response(405, f"Method {request.method} is not allowed on {request.url.path}")
    return error_response(exc.status_code, str(exc.detail))


def _notifier_for(database_url: str) -> Notifier:
    """In-process wake-ups on SQLite (one server per file); LISTEN/NOTIFY across servers on PostgreSQL."""
    if database_url.startswith(("postgresql://", "postgres://")):
        return PostgresNotifier(database_url)
    return Notifier()


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        store = open_store(settings.database_url, run_cache_bytes=settings.run_cache_bytes)
        await store.open()
        notifier = _notifier_for(settings.database_url)
        if isinstance(notifier, PostgresNotifier):
            await notifier.start()
        sandbox = Sandbox(  # its processes start with the first script or query
            processes=settings.sandbox_processes,
            script_timeout_ms=settings.script_timeout_ms,
            script_memory_bytes=settings.script_memory_bytes,
            jq_timeout_ms=settings.jq_timeout_ms,
            jq_memory_bytes=settings.jq_memory_bytes,
            jq_max_output_bytes=settings.jq_max_output_bytes,
        )
        service = Baton(store, settings, notifier, sandbox)
        if settings.load_examples:
            loaded = await service.load_examples()
            if loaded:
                log.info("registered example workflows: %s", ", ".join(loaded))
        sweeper = Sweeper(service.context)
        sweeper.start()
        executors = Executors(service)
        executors.start()
        relay = OutboxRelay(service)
        relay.start()
        retention = Retention(
            service.search,
            retention_days=settings.retention_days,
            interval_ms=settings.retention_interval_ms,
        )
        retention.start()
        app.state.baton = service
        try:
            yield
        finally:
            await relay.stop()
            await executors.stop()
            await retention.stop()
            await sweeper.stop()
            service.context.decisions.close()
            await sandbox.close()
            if isinstance(notifier, PostgresNotifier):
                await notifier.stop()
            await store.close()

    return Starlette(
        routes=[
            *tasks.worker_routes,
            Route("/health", health, methods=["GET"]),
            *metadata.routes,
            # Before workflows and tasks: /api/workflow/search is not the run whose id is "search".
            *search.routes,
            *bulk.routes,
            *workflows.routes,
            *tasks.routes,
        ],
        middleware=[
            Middleware(
                RequestLimits,
                max_bytes=settings.max_body_bytes,
                body_read_timeout_ms=settings.body_read_timeout_ms,
            )
        ],
        exception_handlers={BatonError: _on_baton_error, HTTPException: _on_http_error},
        lifespan=lifespan,
    )
