"""Secrets, written once for both stores: one row per name, its value sealed (encrypted) by the service."""

from __future__ import annotations

from collections.abc import Collection

from baton.store.common.database import Database
from baton.store.common.dialect import per_dialect

UPSERT_SECRET = per_dialect("""
INSERT INTO secrets (name, sealed, update_time) VALUES ($1, $2, $3)
ON CONFLICT (name) DO UPDATE SET sealed = excluded.sealed, update_time = excluded.update_time""")
DELETE_SECRET = per_dialect("DELETE FROM secrets WHERE name = $1")
SELECT_SECRET_NAMES = per_dialect("SELECT name FROM secrets ORDER BY name")
SELECT_SECRET_EXISTS = per_dialect("SELECT 1 FROM secrets WHERE name = $1")
SELECT_SEALED = per_dialect(
    lambda dialect: f"SELECT name, sealed FROM secrets WHERE name {dialect.one_of('$1', 'text')}"
)


class Secrets:
    """``SecretStore`` over the store's ``Database``."""

    _db: Database

    async def put_secret(self, name: str, sealed: str, now: int) -> None:
        async with self._db.write_one("store a secret") as tx:
            await tx.execute(UPSERT_SECRET[self._db.dialect], name, sealed, now)

    async def delete_secret(self, name: str) -> bool:
        async with self._db.write_one("delete a secret") as tx:
            return await tx.execute(DELETE_SECRET[self._db.dialect], name) > 0

    async def secret_names(self) -> list[str]:
        async with self._db.read("list secrets") as tx:
            rows = await tx.fetchall(SELECT_SECRET_NAMES[self._db.dialect])
        return [name for (name,) in rows]

    async def secret_exists(self, name: str) -> bool:
        async with self._db.read("look up a secret") as tx:
            return await tx.fetchone(SELECT_SECRET_EXISTS[self._db.dialect], name) is not None

    async def sealed_secrets(self, names: Collection[str]) -> dict[str, str]:
        if not names:
            return {}
        dialect = self._db.dialect
        async with self._db.read("read secrets") as tx:
            rows = await tx.fetchall(SELECT_SEALED[dialect], dialect.list_value(sorted(set(names))))
        return {name: sealed for name, sealed in rows}
