"""Fixtures of the access tests: a server whose tokens expire within a test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ServerProcess, fresh_database


@pytest.fixture
def short_tokens(server_store: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """A server whose tokens live 2 seconds."""
    with fresh_database(server_store, tmp_path) as url:
        process = ServerProcess(url, tmp_path / "server.log", ["--token-lifetime-seconds", "2"])
        process.start()
        try:
            yield process
        finally:
            process.stop()
