"""The ASGI application: the lifespan that opens the store and starts the loops, and one Mount per surface.

``create_app`` is what ``baton serve`` runs. The lifespan wires the service
(store, sandbox, wake-ups) and starts the loops beside the API (sweeper,
executors, outbox relay, webhook sender, retention, step durations); each surface is mounted under its prefix
with its own error handlers; ``/health``, the OpenAPI document (``/api-docs``) and Swagger UI
(``/swagger-ui/``) stay at the root; ``/`` leads to the dashboard (``/ui``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from types import ModuleType

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api import ballerine, conductor, dashboard, elsa, openapi, state, triggers
from baton.api.access import AuthOffHeader
from baton.api.key_limits import KeyLimiter, KeyLimits, TriggerSizes
from baton.api.limits import RequestLimits
from baton.api.responses import JSONResponse
from baton.api.routing import Surface
from baton.config import Settings
from baton.model.credentials import Credentials, credentials_path, write_credentials
from baton.runtime.executors import Executors
from baton.runtime.notifier import Notifier
from baton.runtime.pg_notifier import PostgresNotifier
from baton.runtime.relay import OutboxRelay
from baton.runtime.retention import Retention
from baton.runtime.step_durations import StepDurations
from baton.runtime.sweeper import Sweeper
from baton.runtime.webhook_delivery import WebhookDelivery
from baton.sandbox.sandbox import Sandbox
from baton.service import Baton
from baton.store import open_store

log = logging.getLogger(__name__)


async def health(request: Request) -> Response:
    return JSONResponse({"healthy": True})


def _notifier_for(database_url: str) -> Notifier:
    """In-process wake-ups on SQLite (one server per file); LISTEN/NOTIFY across servers on PostgreSQL."""
    if database_url.startswith(("postgresql://", "postgres://")):
        return PostgresNotifier(database_url)
    return Notifier()


async def _prepare_access(service: Baton, settings: Settings) -> None:
    """The signing secret and the first ADMIN key; a key made now is printed once and written to the credentials
    file (0600), the one place it is kept in the clear."""
    made = await service.access.prepare(settings)
    if made is None:
        return
    path = credentials_path(settings.credentials_file)
    server_url = f"http://{settings.host}:{settings.port}"
    write_credentials(path, Credentials(made.key.id, made.secret, server_url))
    print(
        "baton: made the first ADMIN access key (shown this once; also written to "
        f"{path}, readable by you only):\n  key id:     {made.key.id}\n  key secret: {made.secret}\n"
        "  a token:    baton token    (or POST /api/token {keyId, keySecret})",
        flush=True,
    )


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
        if settings.auth:
            await _prepare_access(service, settings)
        else:
            log.warning("auth is OFF (--no-auth): every request acts as an ADMIN; answers carry X-Baton-Auth: off")
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
        await service.webhooks.load()
        webhook_delivery = WebhookDelivery(service)
        webhook_delivery.start()
        retention = Retention(
            service.search,
            retention_days=settings.retention_days,
            interval_ms=settings.retention_interval_ms,
            events=service.events,
            webhooks=service.webhooks,
            audit=service.audit,
        )
        retention.start()
        step_durations = StepDurations(service.metrics)
        step_durations.start()
        state.install(app, service)
        try:
            yield
        finally:
            await relay.stop()
            await webhook_delivery.stop()
            await executors.stop()
            await retention.stop()
            await sweeper.stop()
            await step_durations.stop()
            await service.tasks.polls.close()
            service.context.decisions.close()
            await sandbox.close()
            if isinstance(notifier, PostgresNotifier):
                await notifier.stop()
            await store.close()

    limiter = KeyLimiter(
        requests_per_second=settings.key_requests_per_second,
        burst=settings.key_request_burst,
        max_long_polls=settings.key_max_long_polls,
    )
    per_key = [Middleware(KeyLimits, limiter=limiter)]  # around each route, inside authentication's guard
    trigger_sizes = Middleware(
        TriggerSizes,
        max_header_bytes=settings.trigger_max_header_bytes,
        max_path_bytes=settings.trigger_max_path_bytes,
    )

    def surface(prefix: str, package: ModuleType, route_middleware: list[Middleware]) -> Surface:
        """A surface package (``routes``, ``exception_handlers``, ``access``) mounted at ``prefix``."""
        return Surface(
            prefix,
            package.routes,
            package.exception_handlers,
            access=package.access,
            auth=settings.auth,
            route_middleware=route_middleware,
        )

    # The dashboard's session cookie reaches its guard as the request's token (api/dashboard/session.py).
    dashboard_surface = surface("/ui", dashboard, per_key)
    dashboard_surface.app = dashboard.SessionCredentials(dashboard_surface.app)

    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/", dashboard.home, methods=["GET"]),
            Route("/ui", dashboard.home, methods=["GET"]),  # and /ui/, redirected here by the router
            *openapi.routes,
            # Before Conductor's /api: a Mount at /api would take /api/v1/... too.
            surface("/api/v1", ballerine, per_key),
            surface("/api", conductor, per_key),
            surface(settings.trigger_base_path, triggers, [trigger_sizes, *per_key]),
            surface("/elsa/api", elsa, per_key),
            dashboard_surface,
        ],
        middleware=[
            *([] if settings.auth else [Middleware(AuthOffHeader)]),
            Middleware(
                RequestLimits,
                max_bytes=settings.max_body_bytes,
                body_read_timeout_ms=settings.body_read_timeout_ms,
                # Refused before any surface is chosen: in Conductor's shape, the server's first API.
                refusal_body=conductor.error_body,
            ),
        ],
        # A path outside every surface answers as it always has, in Conductor's shape.
        exception_handlers=conductor.exception_handlers,
        lifespan=lifespan,
    )
