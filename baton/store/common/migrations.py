"""The numbered migrations of each dialect, read from ``baton/store/migrations/<dialect>/``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

from baton.errors import StoreError

# -- migrations ----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Migration:
    version: int
    name: str
    sql: str


_MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")


def load_migrations(dialect: str) -> list[Migration]:
    """The numbered migrations of ``dialect`` (``sqlite`` or ``postgres``), in order."""
    folder = resources.files("baton.store") / "migrations" / dialect
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            continue
        found.append(Migration(version=int(match[1]), name=match[2], sql=entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise StoreError(f"Two {dialect} migrations share a number: {versions}")
    return found
