"""Which decisions tell the webhooks that what a run shows may have changed: the RUN_CHANGED signal.

A run whose changes are watched (``DecideContext.run_change_watched``: a webhook wants its state or document
events) gets a RUN_CHANGED signal, in the decision's own transaction, from every decision that may change its
state or its context: one that creates or changes a WAIT, HUMAN or HTTP_ENDPOINT step, or changes the run's
variables or status. Acting on it (``service/run_changes.py``) compares what the run shows with what was last
told. A decision that writes RUN_ENDED writes no RUN_CHANGED: acting on the end looks at the state first, so a
subscriber hears the last state before ``workflow.completed``. A run nobody watches costs one call of the
predicate; a new run's first decision is its starting point, not a change, and writes none.
"""

from __future__ import annotations

from typing import Final

from baton.engine.decision import DecideContext, Decision, Signal, SignalKind
from baton.model import TaskType, Workflow

WATCHED_STEP_TYPES: Final = frozenset({TaskType.WAIT.value, TaskType.HUMAN.value, TaskType.HTTP_ENDPOINT.value})
"""The steps where a run waits for the outside world: where its state (Ballerine's) is decided."""


def with_change_signal(before: Workflow, decision: Decision, ctx: DecideContext) -> Decision:
    """``decision`` with a RUN_CHANGED signal added when its run is watched and it may have changed what the run
    shows."""
    watched = ctx.run_change_watched
    if watched is None or decision.refusal is not None or not watched(before.workflow_id):
        return decision
    if any(signal.kind is SignalKind.RUN_ENDED for signal in decision.signals):
        return decision
    after = decision.workflow
    changed = (
        after.status is not before.status
        or (after.variables is not before.variables and after.variables != before.variables)
        or any(task.task_type in WATCHED_STEP_TYPES for task in (*decision.created, *decision.updated))
    )
    if changed:
        decision.signals.append(
            Signal(
                signal_id=ctx.new_id(),
                kind=SignalKind.RUN_CHANGED,
                source_workflow_id=before.workflow_id,
                target_workflow_id=before.workflow_id,
                created_at=ctx.now,
            )
        )
    return decision
