"""The store's layout holds: the shared code knows neither database, neither store the other, modules stay small."""

from __future__ import annotations

import ast
from pathlib import Path

import baton.store

STORE = Path(baton.store.__file__).parent
MAX_LINES = 600


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def _importing(folder: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{path.relative_to(STORE)} imports {module}"
        for path in (STORE / folder).glob("*.py")
        for module in _imports(path)
        if module.startswith(forbidden)
    )


def test_the_shared_code_knows_neither_database() -> None:
    assert _importing("common", ("baton.store.postgres", "baton.store.sqlite", "asyncpg", "sqlite3")) == []


def test_neither_store_imports_the_other() -> None:
    assert _importing("postgres", ("baton.store.sqlite",)) == []
    assert _importing("sqlite", ("baton.store.postgres",)) == []


def test_no_store_module_is_long() -> None:
    long = {
        str(path.relative_to(STORE)): lines
        for path in STORE.rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
