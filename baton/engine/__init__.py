"""The decider: pure functions from a run's recorded state to its next state. No I/O, no clock reads."""

from baton.engine.decider import apply, start
from baton.engine.decision import DecideContext, Decision, Refusal, Signal, SignalKind
from baton.engine.events import Event, TaskResultReceived, TaskStatusByRef, Terminate, TimerFired

__all__ = [
    "DecideContext",
    "Decision",
    "Event",
    "Refusal",
    "Signal",
    "SignalKind",
    "TaskResultReceived",
    "TaskStatusByRef",
    "Terminate",
    "TimerFired",
    "apply",
    "start",
]
