"""A worker task's input and output against its task definition's schemas (``enforceSchema``).

Checked in the decider: the input when the step's attempt is scheduled, the output
when a COMPLETED result arrives. A check too long for the event loop
(``model.schemas.ON_LOOP_STEPS``) raises ``TooLargeForTheLoop``, so the decision
is made again in a decision thread, with the larger allowance; one too long even
there is a violation naming its bound.
"""

from __future__ import annotations

from typing import Any

from baton.engine.decision import DecideContext, TooLargeForTheLoop
from baton.errors import FieldError
from baton.model import SchemaDef, WorkflowTask
from baton.model.schemas import ON_LOOP_STEPS, OutOfSteps, first_violation, violation_within_bound


def input_violation(ctx: DecideContext, step: WorkflowTask | None, input_data: dict[str, Any]) -> str | None:
    """Why ``input_data`` breaks the step's task definition's enforced ``inputSchema``; None if it does not."""
    task_def = step.task_definition if step is not None else None
    if task_def is None or not task_def.enforce_schema:
        return None
    return _violation(ctx, task_def.input_schema, input_data, "input", "inputSchema")


def output_violation(ctx: DecideContext, step: WorkflowTask | None, output: dict[str, Any]) -> str | None:
    """Why ``output`` breaks the step's task definition's enforced ``outputSchema``; None if it does not."""
    task_def = step.task_definition if step is not None else None
    if task_def is None or not task_def.enforce_schema:
        return None
    return _violation(ctx, task_def.output_schema, output, "output", "outputSchema")


def violation_text(found: FieldError, field: str) -> str:
    return f"{field}: {found.path}: {found.message}"


def _violation(ctx: DecideContext, schema: SchemaDef | None, value: Any, root: str, field: str) -> str | None:
    if schema is None or schema.data is None:
        return None
    if ctx.loop_budget is None:
        found = violation_within_bound(schema.data, value, root)
    else:
        try:
            found = first_violation(schema.data, value, root, max_steps=ON_LOOP_STEPS)
        except OutOfSteps as exc:
            raise TooLargeForTheLoop(f"{field} check: {exc}") from None
    return None if found is None else violation_text(found, field)
