"""Steps the dashboard's tests build their definitions from."""

from __future__ import annotations

from typing import Any


def inline(reference: str, expression: str = "'done'", /, **inputs: Any) -> dict[str, Any]:
    """An INLINE step ``reference`` answering ``expression``, with ``inputs`` beside it."""
    return {
        "name": reference,
        "taskReferenceName": reference,
        "type": "INLINE",
        "inputParameters": {"evaluatorType": "javascript", "expression": expression, **inputs},
    }


def route_by_kind(*, slow_by_default: bool = False) -> dict[str, Any]:
    """A SWITCH on the run's input ``kind``: ``fast_step`` for "fast", ``slow_step`` for "slow" (for any other kind
    too, with ``slow_by_default``; else nothing)."""
    fast = [inline("fast_step", ref="fast_step")]
    slow = [inline("slow_step", ref="slow_step")]
    return {
        "name": "route",
        "taskReferenceName": "route",
        "type": "SWITCH",
        "evaluatorType": "value-param",
        "expression": "kind",
        "inputParameters": {"kind": "${workflow.input.kind}"},
        "decisionCases": {"fast": fast} if slow_by_default else {"fast": fast, "slow": slow},
        "defaultCase": slow if slow_by_default else [],
    }
