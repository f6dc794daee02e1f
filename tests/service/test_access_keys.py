"""What a server remembers of the keys it has checked, on both stores: a key it has just made is accepted (and a
wrong secret refused) at once; requests bringing one key at once wait for one slow check; a change to a key or its
application holds at the next request; a key made again under its id does not take the old secret; the configured
ADMIN key is checked at start."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

import pytest

from baton.config import Settings
from baton.errors import AuthenticationError
from baton.model.access import AccessKey, KeyStatus, Role
from baton.service import Baton
from baton.service.access_tokens import Authenticator, hash_secret


async def test_a_key_made_here_is_accepted_and_a_wrong_secret_refused(baton: Baton) -> None:
    application = await baton.access.create_application("made-here", frozenset({Role.VIEWER}))
    made = await baton.access.create_key(application.id)
    authenticator = baton.access.authenticator
    principal = await authenticator.by_key(made.key.id, made.secret)
    assert (principal.application_id, principal.roles) == (application.id, frozenset({Role.VIEWER}))
    with pytest.raises(AuthenticationError):
        await authenticator.by_key(made.key.id, made.secret + "x")
    other = await baton.access.create_key(application.id)
    with pytest.raises(AuthenticationError):
        await authenticator.by_key(made.key.id, other.secret)


async def test_requests_bringing_one_key_at_once_wait_for_one_slow_check(baton: Baton) -> None:
    application = await baton.access.create_application("elsewhere", frozenset({Role.WORKER}))
    made = await baton.access.create_key(application.id)
    # Another server's authenticator, which has read the key once (so a burst finds it without awaiting the store).
    elsewhere = Authenticator(baton.context.store, token_lifetime_seconds=60, cache_seconds=60)
    with pytest.raises(AuthenticationError):
        await elsewhere.by_key(made.key.id, "a first guess")
    assert elsewhere.slow_checks_run == 1
    refused = await asyncio.gather(
        *(elsewhere.by_key(made.key.id, "not the secret") for _ in range(12)), return_exceptions=True
    )
    assert all(isinstance(answer, AuthenticationError) for answer in refused)
    assert elsewhere.slow_checks_run == 2
    principals = await asyncio.gather(*(elsewhere.by_key(made.key.id, made.secret) for _ in range(12)))
    assert {principal.key_id for principal in principals} == {made.key.id}
    assert elsewhere.slow_checks_run == 3
    with pytest.raises(AuthenticationError):  # refused by the digest of the secret that matched
        await elsewhere.by_key(made.key.id, "not the secret")
    assert (await elsewhere.by_key(made.key.id, made.secret)).key_id == made.key.id
    assert elsewhere.slow_checks_run == 3


async def test_role_changes_and_revocations_hold_at_the_next_request(baton: Baton) -> None:
    application = await baton.access.create_application("changing", frozenset({Role.VIEWER}))
    made = await baton.access.create_key(application.id)
    authenticator = baton.access.authenticator
    await authenticator.by_key(made.key.id, made.secret)
    await baton.access.grant_role(application.id, Role.OPERATOR)
    assert (await authenticator.by_key(made.key.id, made.secret)).roles == {Role.VIEWER, Role.OPERATOR}
    await baton.access.revoke_key(made.key.id)
    with pytest.raises(AuthenticationError):
        await authenticator.by_key(made.key.id, made.secret)
    await baton.access.toggle_key(made.key.id)
    assert (await authenticator.by_key(made.key.id, made.secret)).roles == {Role.VIEWER, Role.OPERATOR}
    await baton.access.delete_application(application.id)
    with pytest.raises(AuthenticationError):
        await authenticator.by_key(made.key.id, made.secret)


async def test_a_key_made_again_under_its_id_takes_its_new_secret_only(baton: Baton) -> None:
    application = await baton.access.create_application("again", frozenset({Role.VIEWER}))
    made = await baton.access.create_key(application.id)
    authenticator = baton.access.authenticator
    await authenticator.by_key(made.key.id, made.secret)
    await baton.access.delete_key(made.key.id)
    again = replace(made.key, secret_hash=hash_secret("the new secret"), status=KeyStatus.ACTIVE)
    await baton.context.store.create_access_key(again)
    with pytest.raises(AuthenticationError):
        await authenticator.by_key(made.key.id, made.secret)
    assert (await authenticator.by_key(made.key.id, "the new secret")).key_id == made.key.id


async def test_the_configured_admin_key_is_made_once_and_a_changed_secret_is_reported(
    baton: Baton, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(database_url="", admin_key_id="ops", admin_key_secret="first-secret")
    assert await baton.access.prepare(settings) is None
    authenticator = baton.access.authenticator
    assert (await authenticator.by_key("ops", "first-secret")).roles == {Role.ADMIN}
    stored = await baton.access.get_key("ops")
    assert isinstance(stored, AccessKey) and stored.secret_hash.startswith("scrypt$")
    with caplog.at_level(logging.WARNING, logger="baton.service.access"):
        await baton.access.prepare(replace(settings, admin_key_secret="second-secret"))
    assert "the access key ops exists with another secret than BATON_ADMIN_KEY_SECRET" in caplog.text
    assert (await baton.access.get_key("ops")).secret_hash == stored.secret_hash
    with pytest.raises(AuthenticationError):
        await authenticator.by_key("ops", "second-secret")
