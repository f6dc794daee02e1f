"""The principal the current request acts as, for the service's use cases that record or check who acted.

The API's authentication sets it for the request's task (``acting_as``); the audit log reads it
(``current_actor``). Work the server does by itself (timers, the relay, retention) acts as ``system``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from baton.model.access import Principal

SYSTEM_ACTOR = "system"

_principal: ContextVar[Principal | None] = ContextVar("baton_principal", default=None)


@contextmanager
def acting_as(principal: Principal) -> Iterator[None]:
    token = _principal.set(principal)
    try:
        yield
    finally:
        _principal.reset(token)


def current_principal() -> Principal | None:
    return _principal.get()


def current_actor() -> str:
    principal = _principal.get()
    return SYSTEM_ACTOR if principal is None else principal.actor
