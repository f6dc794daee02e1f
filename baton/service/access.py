"""Applications, their roles and access keys: made, listed, changed and revoked; and the first ADMIN key.

A key's secret is made here (``secrets.token_urlsafe``), given back once, and kept only as a
slow hash. Revoking (or deleting) a key, or changing its application, makes this server's
``Authenticator`` forget it at once; other servers on the database re-read it within
``access_cache_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Collection
from contextlib import suppress
from dataclasses import dataclass, replace

from baton.config import Settings
from baton.errors import AuthenticationError, ConflictError, FieldError, NotFoundError, ValidationError
from baton.model.access import AccessKey, Application, KeyStatus, Role
from baton.model.audit import AuditAction, TargetKind
from baton.service.access_tokens import Authenticator, hash_secret
from baton.service.context import ServiceContext

log = logging.getLogger(__name__)

FIRST_ADMIN_KEY = "first_admin_key"
"""The shared value naming the first ADMIN key: whichever server records it first makes it."""
ADMIN_APPLICATION_ID = "admin"
ADMIN_APPLICATION_NAME = "admin"


@dataclass(frozen=True, slots=True)
class NewKey:
    """A key just made: the only moment its secret is known."""

    key: AccessKey
    secret: str


def parse_roles(values: Collection[object], field: str = "roles") -> frozenset[Role]:
    """Role names to roles; ValidationError naming the field and the unknown name."""
    roles: set[Role] = set()
    for index, value in enumerate(values):
        if not isinstance(value, str) or value not in Role.__members__:
            known = ", ".join(Role)
            raise ValidationError(errors=[FieldError(f"{field}[{index}]", f"{value!r} is not a role ({known})")])
        roles.add(Role(value))
    return frozenset(roles)


class AccessService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        settings = ctx.settings
        self.authenticator = Authenticator(
            ctx.store,
            token_lifetime_seconds=settings.token_lifetime_seconds,
            cache_seconds=settings.access_cache_seconds,
        )

    async def prepare(self, settings: Settings) -> NewKey | None:
        """At start, auth on: the signing secret, the configured ADMIN key; the first ADMIN key made (returned)
        on an empty database when none is configured."""
        await self.authenticator.load_signing_secret(settings.token_secret)
        if settings.admin_key_id and settings.admin_key_secret:
            await self._ensure_admin_key(settings.admin_key_id, settings.admin_key_secret)
            try:
                await self.authenticator.by_key(settings.admin_key_id, settings.admin_key_secret)
            except AuthenticationError:
                log.warning(
                    "the access key %s exists with another secret than BATON_ADMIN_KEY_SECRET, or is not active:"
                    " kept as it is",
                    settings.admin_key_id,
                )
            await self._ctx.store.shared_value(FIRST_ADMIN_KEY, settings.admin_key_id)
            return None
        proposed = self._ctx.new_id()
        if await self._ctx.store.shared_value(FIRST_ADMIN_KEY, proposed) != proposed:
            return None
        secret = secrets.token_urlsafe(32)
        key = await self._ensure_admin_key(proposed, secret)
        return NewKey(key, secret)

    async def _ensure_admin_key(self, key_id: str, secret: str) -> AccessKey:
        store = self._ctx.store
        existing = await store.get_access_key(key_id)
        if existing is not None:
            return existing
        if await store.get_application(ADMIN_APPLICATION_ID) is None:
            admin = Application(
                id=ADMIN_APPLICATION_ID,
                name=ADMIN_APPLICATION_NAME,
                roles=frozenset({Role.ADMIN}),
                created=self._ctx.clock(),
            )
            with suppress(ConflictError):  # another server made it meanwhile
                await store.create_application(admin)
        key = AccessKey(
            id=key_id,
            application_id=ADMIN_APPLICATION_ID,
            secret_hash=await asyncio.to_thread(hash_secret, secret),
            status=KeyStatus.ACTIVE,
            created=self._ctx.clock(),
        )
        try:
            await store.create_access_key(key)
        except ConflictError:  # another server made it meanwhile, perhaps with another secret
            return key
        self.authenticator.remember(key.id, key.secret_hash, secret)
        return key

    async def create_application(
        self,
        name: str,
        roles: frozenset[Role] = frozenset(),
        *,
        task_types: frozenset[str] | None = None,
        queues: frozenset[str] | None = None,
    ) -> Application:
        if not name.strip():
            raise ValidationError(errors=[FieldError("name", "must not be empty")])
        application = Application(
            id=self._ctx.new_id(),
            name=name,
            roles=roles,
            created=self._ctx.clock(),
            task_types=task_types,
            queues=queues,
        )
        await self._ctx.store.create_application(application)
        await self._ctx.audit.record(
            AuditAction.APPLICATION_CREATED,
            TargetKind.APPLICATION,
            application.id,
            {"name": name, "roles": sorted(roles)},
        )
        return application

    async def get_application(self, application_id: str) -> Application:
        application = await self._ctx.store.get_application(application_id)
        if application is None:
            raise NotFoundError(f"Application {application_id} not found")
        return application

    async def list_applications(self) -> list[Application]:
        return await self._ctx.store.list_applications()

    async def change_application(self, application: Application) -> Application:
        changed = await self._change(application)
        await self._ctx.audit.record(
            AuditAction.APPLICATION_UPDATED,
            TargetKind.APPLICATION,
            application.id,
            {"name": application.name, "roles": sorted(application.roles)},
        )
        return changed

    async def _change(self, application: Application) -> Application:
        if not await self._ctx.store.update_application(application):
            raise NotFoundError(f"Application {application.id} not found")
        self.authenticator.reread_all()
        return await self.get_application(application.id)

    async def grant_role(self, application_id: str, role: Role) -> Application:
        application = await self.get_application(application_id)
        changed = await self._change(replace(application, roles=application.roles | {role}))
        await self._ctx.audit.record(AuditAction.ROLE_ADDED, TargetKind.APPLICATION, application_id, {"role": role})
        return changed

    async def remove_role(self, application_id: str, role: Role) -> Application:
        application = await self.get_application(application_id)
        changed = await self._change(replace(application, roles=application.roles - {role}))
        await self._ctx.audit.record(AuditAction.ROLE_REMOVED, TargetKind.APPLICATION, application_id, {"role": role})
        return changed

    async def delete_application(self, application_id: str) -> None:
        if not await self._ctx.store.delete_application(application_id):
            raise NotFoundError(f"Application {application_id} not found")
        self.authenticator.reread_all()
        await self._ctx.audit.record(AuditAction.APPLICATION_DELETED, TargetKind.APPLICATION, application_id)

    async def create_key(self, application_id: str) -> NewKey:
        secret = secrets.token_urlsafe(32)
        key = AccessKey(
            id=self._ctx.new_id(),
            application_id=application_id,
            secret_hash=await asyncio.to_thread(hash_secret, secret),
            status=KeyStatus.ACTIVE,
            created=self._ctx.clock(),
        )
        await self._ctx.store.create_access_key(key)
        self.authenticator.remember(key.id, key.secret_hash, secret)
        await self._ctx.audit.record(
            AuditAction.KEY_CREATED, TargetKind.ACCESS_KEY, key.id, {"applicationId": application_id}
        )
        return NewKey(key, secret)

    async def list_keys(self, application_id: str | None = None) -> list[AccessKey]:
        if application_id is not None:
            await self.get_application(application_id)
        return await self._ctx.store.list_access_keys(application_id)

    async def get_key(self, key_id: str) -> AccessKey:
        key = await self._ctx.store.get_access_key(key_id)
        if key is None:
            raise NotFoundError(f"Access key {key_id} not found")
        return key

    async def set_key_status(self, key_id: str, status: KeyStatus) -> AccessKey:
        if not await self._ctx.store.set_access_key_status(key_id, status):
            raise NotFoundError(f"Access key {key_id} not found")
        self.authenticator.reread(key_id)
        action = AuditAction.KEY_ACTIVATED if status is KeyStatus.ACTIVE else AuditAction.KEY_REVOKED
        await self._ctx.audit.record(action, TargetKind.ACCESS_KEY, key_id)
        return await self.get_key(key_id)

    async def revoke_key(self, key_id: str) -> AccessKey:
        """The key, and every token made from it, stops being accepted."""
        return await self.set_key_status(key_id, KeyStatus.INACTIVE)

    async def toggle_key(self, key_id: str) -> AccessKey:
        key = await self.get_key(key_id)
        flipped = KeyStatus.INACTIVE if key.status is KeyStatus.ACTIVE else KeyStatus.ACTIVE
        return await self.set_key_status(key_id, flipped)

    async def delete_key(self, key_id: str) -> None:
        if not await self._ctx.store.delete_access_key(key_id):
            raise NotFoundError(f"Access key {key_id} not found")
        self.authenticator.reread(key_id)
        await self._ctx.audit.record(AuditAction.KEY_DELETED, TargetKind.ACCESS_KEY, key_id)
