"""The store contract (``baton/store/roles.py``) for applications, access keys and shared values, on every backend."""

from __future__ import annotations

import pytest

from baton.errors import ConflictError, NotFoundError
from baton.model.access import AccessKey, Application, KeyStatus, Role
from baton.store import Store

pytestmark = pytest.mark.timeout(60)


def _application(application_id: str, *roles: Role, created: int = 1) -> Application:
    return Application(id=application_id, name=f"app {application_id}", roles=frozenset(roles), created=created)


def _key(key_id: str, application_id: str, created: int = 1) -> AccessKey:
    return AccessKey(
        id=key_id, application_id=application_id, secret_hash=f"hash-{key_id}", status=KeyStatus.ACTIVE, created=created
    )


async def test_applications_are_created_read_updated_and_deleted(store: Store) -> None:
    assert await store.list_applications() == []
    ops = _application("ops", Role.OPERATOR, created=1)
    workers = Application(
        id="workers", name="workers", roles=frozenset({Role.WORKER}), created=2, task_types=frozenset({"a", "b"})
    )
    await store.create_application(ops)
    await store.create_application(workers)
    with pytest.raises(ConflictError):
        await store.create_application(_application("ops", Role.ADMIN))

    assert await store.get_application("ops") == ops
    assert await store.get_application("workers") == workers
    assert await store.get_application("missing") is None
    assert await store.list_applications() == [ops, workers]

    reviewers = Application(
        id="ops", name="reviewers", roles=frozenset({Role.REVIEWER, Role.VIEWER}), created=99, queues=frozenset({"q"})
    )
    assert await store.update_application(reviewers) is True
    assert await store.get_application("ops") == Application(
        id="ops", name="reviewers", roles=reviewers.roles, created=1, queues=frozenset({"q"})
    )
    assert await store.update_application(_application("missing")) is False

    await store.create_access_key(_key("k1", "ops"))
    assert await store.delete_application("ops") is True
    assert await store.get_application("ops") is None
    assert await store.get_access_key("k1") is None, "an application's keys go with it"
    assert await store.delete_application("ops") is False


async def test_access_keys_belong_to_an_application_and_can_be_turned_off(store: Store) -> None:
    await store.create_application(_application("one", Role.ADMIN))
    await store.create_application(_application("two", Role.VIEWER))
    first, second, third = _key("k1", "one", 1), _key("k2", "two", 2), _key("k3", "one", 3)
    for key in (first, second, third):
        await store.create_access_key(key)
    with pytest.raises(ConflictError):
        await store.create_access_key(_key("k1", "two"))
    with pytest.raises(NotFoundError):
        await store.create_access_key(_key("k4", "missing"))
    assert await store.get_access_key("k4") is None

    assert await store.get_access_key("k1") == first
    assert await store.list_access_keys() == [first, second, third]
    assert await store.list_access_keys("one") == [first, third]
    assert await store.list_access_keys("missing") == []

    assert await store.set_access_key_status("k1", KeyStatus.INACTIVE) is True
    got = await store.get_access_key("k1")
    assert got is not None and got.status is KeyStatus.INACTIVE
    assert await store.set_access_key_status("missing", KeyStatus.INACTIVE) is False

    assert await store.delete_access_key("k2") is True
    assert await store.delete_access_key("k2") is False
    assert await store.list_access_keys() == [got, third]


async def test_a_shared_value_is_the_first_one_proposed(store: Store) -> None:
    assert await store.shared_value("token_secret", "first") == "first"
    assert await store.shared_value("token_secret", "second") == "first"
    assert await store.shared_value("other", "x") == "x"
