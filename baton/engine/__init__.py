"""The decider: pure functions from a run's recorded state to its next state. No I/O, no clock reads."""

from baton.engine.decider import start
from baton.engine.decision import DecideContext, Decision, Refusal, Signal, SignalKind
from baton.engine.events import (
    OPERATOR_EVENTS,
    Decide,
    Event,
    OperatorEvent,
    Pause,
    Rerun,
    Restart,
    Resume,
    Retry,
    RunTimerFired,
    SkipTask,
    TaskResultReceived,
    TaskStatusByRef,
    Terminate,
    TimerFired,
    UpdateVariables,
)
from baton.engine.operations import apply

__all__ = [
    "OPERATOR_EVENTS",
    "Decide",
    "DecideContext",
    "Decision",
    "Event",
    "OperatorEvent",
    "Pause",
    "Refusal",
    "Rerun",
    "Restart",
    "Resume",
    "Retry",
    "RunTimerFired",
    "Signal",
    "SignalKind",
    "SkipTask",
    "TaskResultReceived",
    "TaskStatusByRef",
    "Terminate",
    "TimerFired",
    "UpdateVariables",
    "apply",
    "start",
]
