"""The decider: pure functions from a run's recorded state to its next state. No I/O, no clock reads."""

from baton.engine.decider import apply, start
from baton.engine.decision import DecideContext, Decision, Refusal
from baton.engine.events import Event, RunTimerFired, TaskResultReceived, TaskStatusByRef, Terminate, TimerFired

__all__ = [
    "DecideContext",
    "Decision",
    "Event",
    "Refusal",
    "RunTimerFired",
    "TaskResultReceived",
    "TaskStatusByRef",
    "Terminate",
    "TimerFired",
    "apply",
    "start",
]
