"""The small differences between the two databases that code written once for both must know.

Statements are written once, with PostgreSQL's ``$n`` placeholders, and turned
into each dialect's text at import (``per_dialect``), never at call time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from enum import Enum
from typing import Any


class Dialect(Enum):
    POSTGRES = "postgres"
    SQLITE = "sqlite"

    def placeholders(self, text: str) -> str:
        """``text``, written with ``$n`` placeholders, in this dialect's (SQLite numbers them ``?n``)."""
        return text if self is Dialect.POSTGRES else _PLACEHOLDER.sub(r"?\1", text)

    def one_of(self, param: str, element_type: str) -> str:
        """The right side of a condition true when the column equals one of the list bound at ``param``
        (bind the list with ``list_value``)."""
        if self is Dialect.POSTGRES:
            return f"= ANY({param}::{element_type}[])"
        return f"IN (SELECT value FROM json_each({param}))"

    def list_value(self, values: Iterable[Any]) -> Any:
        """A list, bound as ``one_of`` reads it: an array on PostgreSQL, JSON text on SQLite."""
        return list(values) if self is Dialect.POSTGRES else json.dumps(list(values))

    @property
    def lock_rows(self) -> str:
        """What a SELECT ends with to lock the rows it reads until the transaction ends (SQLite's single writer
        holds them all already)."""
        return " FOR UPDATE" if self is Dialect.POSTGRES else ""


_PLACEHOLDER = re.compile(r"\$(\d+)")


def per_dialect(text: str | Callable[[Dialect], str]) -> dict[Dialect, str]:
    """A statement's text in each dialect: ``text`` with ``$n`` placeholders, or a function of the dialect for the
    parts that differ (``Dialect.one_of``, ``Dialect.lock_rows``)."""
    return {dialect: dialect.placeholders(text if isinstance(text, str) else text(dialect)) for dialect in Dialect}
