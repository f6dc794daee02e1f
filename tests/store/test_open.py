"""``open_store`` picks the backend by URL scheme."""

from __future__ import annotations

from pathlib import Path

import pytest

from baton.store import open_store
from baton.store.postgres import PostgresStore
from baton.store.sqlite import SqliteStore
from tests.store.store_builders import make_run, start


@pytest.mark.parametrize(
    ("url", "file"),
    [
        ("sqlite:///relative.db", "relative.db"),
        ("sub/bare.db", "sub/bare.db"),
        ("bare.db", "bare.db"),
    ],
)
async def test_sqlite_urls_name_files(url: str, file: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    store = open_store(url)
    assert isinstance(store, SqliteStore)
    await store.open()
    await store.close()
    assert (tmp_path / file).is_file()


async def test_sqlite_absolute_url(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/abs.db")
    await store.open()
    await store.close()
    assert (tmp_path / "abs.db").is_file()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
async def test_sqlite_in_memory(url: str) -> None:
    store = open_store(url)
    await store.open()
    try:
        await start(store, make_run())
        assert await store.get_run("wf-1") is not None
    finally:
        await store.close()


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgres://u@h/db", "POSTGRESQL://u@h/db"])
def test_postgres_urls(url: str) -> None:
    assert isinstance(open_store(url), PostgresStore)


@pytest.mark.parametrize("url", ["mysql://u@h/db", "sqlite://host/file.db"])
def test_unknown_urls(url: str) -> None:
    with pytest.raises(ValueError, match="URL"):
        open_store(url)
