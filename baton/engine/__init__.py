"""The decider: pure functions from a run's recorded state to its next state. No I/O, no clock reads."""

from baton.engine.decider import start
from baton.engine.decision import DecideContext, Decision, Refusal, Signal, SignalKind
from baton.engine.events import (
    OPERATOR_EVENTS,
    ChildRetried,
    Decide,
    Event,
    FailureWorkflowNotStarted,
    OperatorEvent,
    Pause,
    Rerun,
    Restart,
    Resume,
    Retry,
    SkipTask,
    TaskResultReceived,
    TaskStatusByRef,
    Terminate,
    TimerFired,
    UpdateVariables,
)
from baton.engine.operations import apply, can_retry, retriable_steps

__all__ = [
    "OPERATOR_EVENTS",
    "ChildRetried",
    "Decide",
    "DecideContext",
    "Decision",
    "Event",
    "FailureWorkflowNotStarted",
    "OperatorEvent",
    "Pause",
    "Refusal",
    "Rerun",
    "Restart",
    "Resume",
    "Retry",
    "Signal",
    "SignalKind",
    "SkipTask",
    "TaskResultReceived",
    "TaskStatusByRef",
    "Terminate",
    "TimerFired",
    "UpdateVariables",
    "apply",
    "can_retry",
    "retriable_steps",
    "start",
]
