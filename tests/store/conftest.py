"""The ``store`` fixture: every contract test runs on a fresh SQLite file and a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from baton.store import Store, open_store


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[Store]:
    opened = open_store(store_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def pg_store(postgres_url: str) -> AsyncIterator[Store]:
    opened = open_store(postgres_url, pool_max_size=10)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
