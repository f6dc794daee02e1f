"""jq (libjq, through the ``jq`` package) applied to a JSON value, errors as values.

Compiling a query costs milliseconds, so compiled programs of short queries are
kept in a small LRU cache keyed by the query text (long queries are compiled
each time, so the cache stays small in bytes). A query may yield at most
``MAX_RESULTS`` values. Nothing here bounds time or memory: jq's C code cannot be
interrupted from Python, which is why the server runs it in a sandbox child
(``baton.sandbox``) that its parent kills.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any, Final

import jq

from baton.sandbox.results import JqResult

MAX_RESULTS: Final = 10_000
_CACHED_QUERY_CHARS: Final = 4096


@lru_cache(maxsize=256)
def _compile_cached(query: str) -> Any:
    return jq.compile(query)


def _compile(query: str) -> Any:
    if len(query) <= _CACHED_QUERY_CHARS:
        return _compile_cached(query)
    return jq.compile(query)


def _message(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text.rstrip(":")


def check_query(query: Any) -> str | None:
    """Why ``query`` cannot be a jq query, or None."""
    if not isinstance(query, str) or not query.strip():
        return "'queryExpression' must be a non-empty string"
    return None


def run(query: str, *, value: Any = None, text: str | None = None, max_results: int = MAX_RESULTS) -> JqResult:
    """Apply ``query`` to ``value``, or to the JSON ``text`` when it is given."""
    try:
        program = _compile(query)
    except MemoryError:
        raise
    except Exception as exc:
        return JqResult(error=f"invalid jq query: {_message(exc)}")
    try:
        bound = program.input_text(text) if text is not None else program.input_value(value)
        values = list(itertools.islice(iter(bound), max_results + 1))
    except MemoryError:
        raise
    except Exception as exc:
        return JqResult(error=f"jq error: {_message(exc)}")
    if len(values) > max_results:
        return JqResult(error=f"jq query produced more than {max_results} results")
    return JqResult(result=values[0] if values else None, result_list=values)
