"""JSON_JQ_TRANSFORM: a jq query applied to the task's input.

Compiling a query costs milliseconds, so compiled programs are kept in a
bounded LRU cache keyed by the query text. Compile and runtime errors come back
as values. A query may yield at most ``MAX_RESULTS`` values; a query that loops
inside a single value cannot be interrupted (jq has no time limit), a known
limit of running jq in process.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

import jq

MAX_RESULTS: Final = 10_000


@dataclass(frozen=True, slots=True)
class JqResult:
    """The first value (``result``) and all values (``result_list``), or why there are none."""

    result: Any = None
    result_list: list[Any] = field(default_factory=list)
    error: str | None = None
    limit: bool = False
    """The error is a bound (time, memory, output size) the query hit."""

    @property
    def ok(self) -> bool:
        return self.error is None


@lru_cache(maxsize=512)
def _compile(query: str) -> Any:
    return jq.compile(query)


def _message(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text.rstrip(":")


def transform(query: Any, data: Any, *, max_results: int = MAX_RESULTS) -> JqResult:
    """Apply ``query`` to ``data``."""
    if not isinstance(query, str) or not query.strip():
        return JqResult(error="'queryExpression' must be a non-empty string")
    try:
        program = _compile(query)
    except Exception as exc:
        return JqResult(error=f"invalid jq query: {_message(exc)}")
    try:
        values = list(itertools.islice(iter(program.input_value(data)), max_results + 1))
    except Exception as exc:
        return JqResult(error=f"jq error: {_message(exc)}")
    if len(values) > max_results:
        return JqResult(error=f"jq query produced more than {max_results} results")
    return JqResult(result=values[0] if values else None, result_list=values)
