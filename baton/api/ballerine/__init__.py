"""Ballerine's API, mounted at ``/api/v1`` (before Conductor's ``/api``): the external workflow routes, the back
office's cases and filters, the outgoing webhooks' subscriptions and deliveries, and Ballerine's error body."""

from __future__ import annotations

from starlette.routing import BaseRoute

from baton.api.ballerine import backoffice, external, webhooks
from baton.api.ballerine.access import access
from baton.api.ballerine.errors import error_body, exception_handlers

__all__ = ["access", "error_body", "exception_handlers", "routes"]

routes: list[BaseRoute] = [*external.routes, *backoffice.routes, *webhooks.routes]
