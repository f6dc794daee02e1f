"""The decider (placeholder signatures; the implementation is being written)."""

from __future__ import annotations

from baton.engine.decision import DecideContext, Decision
from baton.engine.events import Event
from baton.model import Workflow, WorkflowDef


def start(definition: WorkflowDef, run: Workflow, ctx: DecideContext) -> Decision:
    """The first decision of a new run: schedule (and run, for inline system tasks) its first steps."""
    raise NotImplementedError


def apply(definition: WorkflowDef, run: Workflow, event: Event, ctx: DecideContext) -> Decision:
    """Apply one event to a run, then decide what follows. Never raises for a bad event: refuses it."""
    raise NotImplementedError
