"""Who may do what: roles, the permissions a route asks for, and the principal a request acts as.

A route names one ``Permission``; a role grants a set of them (``ROLE_PERMISSIONS``).
A ``Principal`` is what an access key (or a token made from one) stands for: its
application's roles, and for WORKER keys the task types it may poll and update, for
REVIEWER keys the case queues it may decide. With auth turned off every request acts
as ``UNAUTHENTICATED_ADMIN``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "ADMIN"
    """Everything, keys and secrets included."""
    OPERATOR = "OPERATOR"
    """Start, control and read runs, register definitions, decide cases."""
    WORKER = "WORKER"
    """Poll and update tasks of the task types it is granted, nothing else."""
    VIEWER = "VIEWER"
    """Read only."""
    REVIEWER = "REVIEWER"
    """Read and decide cases of its queues."""


class Permission(StrEnum):
    PUBLIC = "PUBLIC"
    """No credentials needed (``/health``, ``POST /api/token``, the API document)."""
    READ = "READ"
    """Read runs, tasks, definitions, queues and searches."""
    START = "START"
    """Start runs (and send events that may start them)."""
    CONTROL = "CONTROL"
    """Change a run: terminate, pause, resume, retry, restart, rerun, skip, update a task by hand, remove."""
    DEFINE = "DEFINE"
    """Register, change and delete definitions, event handlers and webhooks."""
    WORK = "WORK"
    """Poll, acknowledge and update tasks (a WORKER key: only its task types)."""
    CASE_READ = "CASE_READ"
    """Read cases, their entities and documents."""
    CASE_DECIDE = "CASE_DECIDE"
    """Assign, approve, reject or ask for revision on a case (a REVIEWER key: only its queues)."""
    MANAGE = "MANAGE"
    """Applications, access keys, secrets and the audit log."""


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.OPERATOR: frozenset(
        {
            Permission.PUBLIC,
            Permission.READ,
            Permission.START,
            Permission.CONTROL,
            Permission.DEFINE,
            Permission.CASE_READ,
            Permission.CASE_DECIDE,
        }
    ),
    Role.WORKER: frozenset({Permission.PUBLIC, Permission.WORK}),
    Role.VIEWER: frozenset({Permission.PUBLIC, Permission.READ, Permission.CASE_READ}),
    Role.REVIEWER: frozenset({Permission.PUBLIC, Permission.CASE_READ, Permission.CASE_DECIDE}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as: an access key of an application, with the application's roles."""

    key_id: str
    application_id: str
    application_name: str
    roles: frozenset[Role]
    task_types: frozenset[str] | None = None
    """The task types a WORKER may poll and update; None: every type."""
    queues: frozenset[str] | None = None
    """The case queues a REVIEWER may decide; None: every queue."""

    def may(self, permission: Permission) -> bool:
        return any(permission in ROLE_PERMISSIONS[role] for role in self.roles)

    def lacking_role(self, permission: Permission) -> Role:
        """The least role that grants ``permission``: what a 403 names."""
        for role in (Role.VIEWER, Role.WORKER, Role.REVIEWER, Role.OPERATOR, Role.ADMIN):
            if permission in ROLE_PERMISSIONS[role]:
                return role
        return Role.ADMIN

    @property
    def works_on_every_type(self) -> bool:
        return Role.ADMIN in self.roles or Role.OPERATOR in self.roles or self.task_types is None

    @property
    def decides_in_every_queue(self) -> bool:
        return Role.ADMIN in self.roles or Role.OPERATOR in self.roles or self.queues is None

    def may_work_on(self, task_type: str) -> bool:
        return self.works_on_every_type or task_type in (self.task_types or ())

    def may_decide_in(self, queue: str | None) -> bool:
        """A case of no queue is decided only by a key that may decide in every queue."""
        return self.decides_in_every_queue or (queue is not None and queue in (self.queues or ()))

    @property
    def actor(self) -> str:
        """How the audit log names this principal."""
        return f"{self.application_name}:{self.key_id}"


UNAUTHENTICATED_ADMIN = Principal(
    key_id="anonymous", application_id="anonymous", application_name="auth-off", roles=frozenset({Role.ADMIN})
)
"""Every request's principal when auth is turned off (``--no-auth``)."""


class KeyStatus(StrEnum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    """Revoked (or toggled off): neither the key nor any token made from it is accepted."""


@dataclass(frozen=True, slots=True)
class Application:
    """Who holds access keys: a name, roles, and the limits its WORKER and REVIEWER roles work within."""

    id: str
    name: str
    roles: frozenset[Role]
    created: int
    task_types: frozenset[str] | None = None
    """The task types its WORKER keys may poll and update; None: every type."""
    queues: frozenset[str] | None = None
    """The case queues its REVIEWER keys may decide; None: every queue."""


@dataclass(frozen=True, slots=True)
class AccessKey:
    """One key of an application: its id, the slow hash of its secret (never the secret) and its status."""

    id: str
    application_id: str
    secret_hash: str
    status: KeyStatus
    created: int


def principal_of(key: AccessKey, application: Application) -> Principal:
    return Principal(
        key_id=key.id,
        application_id=application.id,
        application_name=application.name,
        roles=application.roles,
        task_types=application.task_types,
        queues=application.queues,
    )
