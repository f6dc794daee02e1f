"""The store contract (``baton/store/roles.py``) for secrets, run against every backend."""

from __future__ import annotations

import pytest

from baton.store import Store

pytestmark = pytest.mark.timeout(60)


async def test_secrets_are_kept_by_name_and_replaced_whole(store: Store) -> None:
    assert await store.secret_names() == []
    assert await store.sealed_secrets(["token"]) == {}
    assert await store.sealed_secrets([]) == {}

    await store.put_secret("token", "sealed-1", 10)
    await store.put_secret("api-key", "sealed-2", 11)
    await store.put_secret("token", "sealed-3", 12)

    assert await store.secret_names() == ["api-key", "token"]
    assert await store.secret_exists("token")
    assert not await store.secret_exists("other")
    assert await store.sealed_secrets(["token", "api-key", "other", "token"]) == {
        "token": "sealed-3",
        "api-key": "sealed-2",
    }

    assert await store.delete_secret("token")
    assert not await store.delete_secret("token")
    assert await store.secret_names() == ["api-key"]
    assert await store.sealed_secrets(["token"]) == {}
