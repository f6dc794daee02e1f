"""Rules on event handlers that types alone cannot express; each error names its field's path.

What Conductor requires (a name, an event, at least one action) and what an action
needs to do anything: its kind, the parameter object named after it, and in that
object what finds its target (a workflow's name to start; a task by ``taskId``, or by
``workflowId`` and ``taskRefName``; a run's ``workflowId``). Values may be ``${...}``
expressions over the event's payload: they are resolved when the event fires.
"""

from __future__ import annotations

from typing import Final

from baton.errors import FieldError, ValidationError
from baton.model.events import Action, ActionKind, EventHandler, TaskDetails
from baton.model.validation import name_problem

CONDITION_EVALUATORS: Final = ("javascript", "graaljs", "value-param")
"""``evaluatorType`` values a condition may name; none means ``javascript``, as in Conductor."""
_KINDS: Final = ", ".join(kind.value for kind in ActionKind)


def validate_event_handler(handler: EventHandler) -> None:
    """Raise ValidationError listing every problem of the handler, or return."""
    errors: list[FieldError] = []
    for field, value in (("name", handler.name), ("event", handler.event)):
        problem = name_problem(value)
        if problem:
            errors.append(FieldError(field, problem))
    if handler.evaluator_type is not None and handler.evaluator_type not in CONDITION_EVALUATORS:
        errors.append(FieldError("evaluatorType", f"must be one of {', '.join(CONDITION_EVALUATORS)}"))
    if not handler.actions:
        errors.append(FieldError("actions", "must hold at least one action"))
    for index, action in enumerate(handler.actions):
        errors.extend(_action_errors(action, f"actions[{index}]"))
    if errors:
        raise ValidationError(errors=errors)


def _action_errors(action: Action, at: str) -> list[FieldError]:
    kind = action.action
    if kind is None:
        return [FieldError(f"{at}.action", f"is required: one of {_KINDS}")]
    params = getattr(action, kind.value)
    where = f"{at}.{kind.value}"
    if params is None:
        return [FieldError(where, f"is required for action {kind.value}")]
    if kind is ActionKind.START_WORKFLOW:
        if not (params.name and params.name.strip()):
            return [FieldError(f"{where}.name", "is required: the workflow to start")]
        return []
    if kind in (ActionKind.COMPLETE_TASK, ActionKind.FAIL_TASK):
        return _task_errors(params, where)
    if not (params.workflow_id and params.workflow_id.strip()):
        return [FieldError(f"{where}.workflowId", "is required")]
    return []


def _task_errors(details: TaskDetails, where: str) -> list[FieldError]:
    if details.task_id and details.task_id.strip():
        return []
    if details.workflow_id and details.workflow_id.strip() and details.task_ref_name and details.task_ref_name.strip():
        return []
    return [FieldError(where, "needs taskId, or workflowId and taskRefName")]
