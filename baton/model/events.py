"""Event handlers in Conductor's JSON shape: what to do when an event is published (``/api/event``).

An ``EventHandler`` listens on one ``event`` (``conductor:<workflow>:<name>`` for what
an EVENT task with a ``conductor`` sink publishes); when its ``condition`` holds for
the event's payload, each of its ``actions`` runs. Like Conductor's, an action keeps
its parameters under a key named after its kind (``start_workflow``,
``complete_task``, ...), in snake case, beside ``expandInlineJSON``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import msgspec


class ActionKind(str, Enum):
    START_WORKFLOW = "start_workflow"
    COMPLETE_TASK = "complete_task"
    FAIL_TASK = "fail_task"
    TERMINATE_WORKFLOW = "terminate_workflow"
    UPDATE_WORKFLOW_VARIABLES = "update_workflow_variables"


class StartWorkflowAction(msgspec.Struct, rename="camel", kw_only=True):
    name: str | None = None
    version: int | None = None
    correlation_id: str | None = None
    input: dict[str, Any] = msgspec.field(default_factory=dict)
    task_to_domain: dict[str, str] = msgspec.field(default_factory=dict)


class TaskDetails(msgspec.Struct, rename="camel", kw_only=True):
    """The task a ``complete_task`` or ``fail_task`` action ends: by ``taskId``, or by run and reference name."""

    workflow_id: str | None = None
    task_ref_name: str | None = None
    task_id: str | None = None
    output: dict[str, Any] = msgspec.field(default_factory=dict)


class TerminateWorkflowAction(msgspec.Struct, rename="camel", kw_only=True):
    workflow_id: str | None = None
    termination_reason: str | None = None


class UpdateWorkflowVariablesAction(msgspec.Struct, rename="camel", kw_only=True):
    workflow_id: str | None = None
    variables: dict[str, Any] = msgspec.field(default_factory=dict)
    append_array: bool = False


class Action(msgspec.Struct, kw_only=True):
    action: ActionKind | None = None
    start_workflow: StartWorkflowAction | None = None
    complete_task: TaskDetails | None = None
    fail_task: TaskDetails | None = None
    terminate_workflow: TerminateWorkflowAction | None = None
    update_workflow_variables: UpdateWorkflowVariablesAction | None = None
    expand_inline_json: bool = msgspec.field(default=False, name="expandInlineJSON")


class EventHandler(msgspec.Struct, rename="camel", kw_only=True):
    """Conductor's ``EventHandler``; ``active`` is false unless given, as in Conductor."""

    name: str = ""
    event: str = ""
    condition: str | None = None
    actions: list[Action] = msgspec.field(default_factory=list)
    active: bool = False
    evaluator_type: str | None = None


class ExecutionStatus(str, Enum):
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"


class EventExecution(msgspec.Struct, rename="camel", kw_only=True):
    """What one handler did with one published event (Conductor's ``EventExecution``): an action's outcome, or
    SKIPPED when its condition was false. ``id`` is ``<messageId>_<handler>_<action index>``."""

    id: str
    message_id: str
    name: str
    event: str
    created: int
    status: ExecutionStatus
    action: ActionKind | None = None
    output: dict[str, Any] = msgspec.field(default_factory=dict)
