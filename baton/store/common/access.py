"""Applications, their access keys and the values servers share (the token signing secret), written once for
both stores."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from baton.errors import ConflictError, NotFoundError
from baton.model.access import AccessKey, Application, KeyStatus, Role
from baton.store.common.database import Database
from baton.store.common.dialect import per_dialect

INSERT_APPLICATION = per_dialect("""
INSERT INTO applications (application_id, name, roles, task_types, queues, created_at) VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (application_id) DO NOTHING""")
UPDATE_APPLICATION = per_dialect(
    "UPDATE applications SET name = $2, roles = $3, task_types = $4, queues = $5 WHERE application_id = $1"
)
_APPLICATION_COLUMNS = "application_id, name, roles, task_types, queues, created_at"
SELECT_APPLICATION = per_dialect(f"SELECT {_APPLICATION_COLUMNS} FROM applications WHERE application_id = $1")
SELECT_APPLICATIONS = per_dialect(
    f"SELECT {_APPLICATION_COLUMNS} FROM applications ORDER BY created_at, application_id"
)
DELETE_APPLICATION_KEYS = per_dialect("DELETE FROM access_keys WHERE application_id = $1")
DELETE_APPLICATION = per_dialect("DELETE FROM applications WHERE application_id = $1")

INSERT_KEY = per_dialect("""
INSERT INTO access_keys (key_id, application_id, secret_hash, status, created_at)
SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM applications WHERE application_id = $2)
ON CONFLICT (key_id) DO NOTHING""")
SELECT_KEY_HOLDER = per_dialect("SELECT application_id FROM access_keys WHERE key_id = $1")
_KEY_COLUMNS = "key_id, application_id, secret_hash, status, created_at"
SELECT_KEY = per_dialect(f"SELECT {_KEY_COLUMNS} FROM access_keys WHERE key_id = $1")
SELECT_KEYS = per_dialect(f"SELECT {_KEY_COLUMNS} FROM access_keys ORDER BY created_at, key_id")
SELECT_KEYS_OF = per_dialect(
    f"SELECT {_KEY_COLUMNS} FROM access_keys WHERE application_id = $1 ORDER BY created_at, key_id"
)
UPDATE_KEY_STATUS = per_dialect("UPDATE access_keys SET status = $2 WHERE key_id = $1")
DELETE_KEY = per_dialect("DELETE FROM access_keys WHERE key_id = $1")

INSERT_SETTING = per_dialect("INSERT INTO access_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
SELECT_SETTING = per_dialect("SELECT value FROM access_settings WHERE name = $1")


class AccessRecords:
    """``AccessStore`` over the store's ``Database``."""

    _db: Database

    async def create_application(self, application: Application) -> None:
        async with self._db.write_one("store an application") as tx:
            if await tx.execute(INSERT_APPLICATION[self._db.dialect], *_application_row(application)) == 0:
                raise ConflictError(f"Application {application.id} already exists")

    async def update_application(self, application: Application) -> bool:
        row = _application_row(application)[:5]
        async with self._db.write_one("update an application") as tx:
            return await tx.execute(UPDATE_APPLICATION[self._db.dialect], *row) > 0

    async def get_application(self, application_id: str) -> Application | None:
        async with self._db.read("read an application") as tx:
            row = await tx.fetchone(SELECT_APPLICATION[self._db.dialect], application_id)
        return None if row is None else _application(row)

    async def list_applications(self) -> list[Application]:
        async with self._db.read("list applications") as tx:
            rows = await tx.fetchall(SELECT_APPLICATIONS[self._db.dialect])
        return [_application(row) for row in rows]

    async def delete_application(self, application_id: str) -> bool:
        dialect = self._db.dialect
        async with self._db.write("delete an application") as tx:
            await tx.execute(DELETE_APPLICATION_KEYS[dialect], application_id)
            return await tx.execute(DELETE_APPLICATION[dialect], application_id) > 0

    async def create_access_key(self, key: AccessKey) -> None:
        dialect = self._db.dialect
        async with self._db.write("store an access key") as tx:
            row = (key.id, key.application_id, key.secret_hash, key.status.value, key.created)
            if await tx.execute(INSERT_KEY[dialect], *row) == 1:
                return
            if await tx.fetchone(SELECT_KEY_HOLDER[dialect], key.id) is not None:
                raise ConflictError(f"Access key {key.id} already exists")
            raise NotFoundError(f"Application {key.application_id} not found")

    async def get_access_key(self, key_id: str) -> AccessKey | None:
        async with self._db.read("read an access key") as tx:
            row = await tx.fetchone(SELECT_KEY[self._db.dialect], key_id)
        return None if row is None else _key(row)

    async def list_access_keys(self, application_id: str | None = None) -> list[AccessKey]:
        dialect = self._db.dialect
        async with self._db.read("list access keys") as tx:
            if application_id is None:
                rows = await tx.fetchall(SELECT_KEYS[dialect])
            else:
                rows = await tx.fetchall(SELECT_KEYS_OF[dialect], application_id)
        return [_key(row) for row in rows]

    async def set_access_key_status(self, key_id: str, status: KeyStatus) -> bool:
        async with self._db.write_one("change an access key's status") as tx:
            return await tx.execute(UPDATE_KEY_STATUS[self._db.dialect], key_id, status.value) > 0

    async def delete_access_key(self, key_id: str) -> bool:
        async with self._db.write_one("delete an access key") as tx:
            return await tx.execute(DELETE_KEY[self._db.dialect], key_id) > 0

    async def shared_value(self, name: str, proposed: str) -> str:
        dialect = self._db.dialect
        async with self._db.write("read a shared value") as tx:
            await tx.execute(INSERT_SETTING[dialect], name, proposed)
            row = await tx.fetchone(SELECT_SETTING[dialect], name)
        assert row is not None, "the value was just written"
        value: str = row[0]
        return value


def _names(values: frozenset[str] | None) -> str | None:
    return None if values is None else json.dumps(sorted(values))


def _name_set(text: str | None) -> frozenset[str] | None:
    return None if text is None else frozenset(json.loads(text))


def _application_row(application: Application) -> tuple[Any, ...]:
    roles = json.dumps(sorted(role.value for role in application.roles))
    return (
        application.id,
        application.name,
        roles,
        _names(application.task_types),
        _names(application.queues),
        application.created,
    )


def _application(row: Sequence[Any]) -> Application:
    application_id, name, roles, task_types, queues, created = row
    return Application(
        id=application_id,
        name=name,
        roles=frozenset(Role(role) for role in json.loads(roles)),
        created=int(created),
        task_types=_name_set(task_types),
        queues=_name_set(queues),
    )


def _key(row: Sequence[Any]) -> AccessKey:
    key_id, application_id, secret_hash, status, created = row
    return AccessKey(
        id=key_id,
        application_id=application_id,
        secret_hash=secret_hash,
        status=KeyStatus(status),
        created=int(created),
    )
