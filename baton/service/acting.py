"""The principal the current request acts as, for the service's use cases that record or check who acted.

The API's authentication sets it for the request's task (``acting_as``); the audit log reads it
(``current_actor``). Work the server does by itself (timers, the relay, retention) acts as ``system``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from baton.errors import PermissionDeniedError
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


def limited_principal() -> Principal | None:
    """The acting principal when it may work on some task types only (a WORKER key granted some); else None."""
    principal = _principal.get()
    return None if principal is None or principal.works_on_every_type else principal


def check_may_work_on(task_type: str) -> None:
    """PermissionDeniedError when the acting principal may not poll or update tasks of ``task_type``."""
    principal = _principal.get()
    if principal is not None and not principal.may_work_on(task_type):
        raise PermissionDeniedError(
            f"Key {principal.key_id} may work on task types {', '.join(sorted(principal.task_types or ()))} only,"
            f" not {task_type}"
        )


def check_may_decide_in(queue: str | None) -> None:
    """PermissionDeniedError when the acting principal may not decide cases of ``queue``."""
    principal = _principal.get()
    if principal is not None and not principal.may_decide_in(queue):
        raise PermissionDeniedError(
            f"Key {principal.key_id} may decide cases of queues {', '.join(sorted(principal.queues or ()))} only,"
            f" not {queue or 'a case of no queue'}"
        )
