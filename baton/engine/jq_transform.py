"""JSON_JQ_TRANSFORM: a jq query applied to the task's input, in this process.

The evaluation itself is ``baton.sandbox.jq_eval`` (shared with the sandbox's
children); this in-process form is unbounded in time and memory, so the server
runs jq through ``baton.sandbox.Sandbox`` and uses this only when it has none
(tests, tools). Compile and runtime errors come back as values.
"""

from __future__ import annotations

from typing import Any

from baton.sandbox.jq_eval import MAX_RESULTS, check_query, run
from baton.sandbox.results import JqResult

__all__ = ["MAX_RESULTS", "JqResult", "transform"]


def transform(query: Any, data: Any, *, max_results: int = MAX_RESULTS) -> JqResult:
    """Apply ``query`` to ``data``."""
    problem = check_query(query)
    if problem is not None:
        return JqResult(error=problem)
    return run(query, value=data, max_results=max_results)
