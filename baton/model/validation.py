"""Rules on definitions that types alone cannot express. Each error names its field's path."""

from __future__ import annotations

import re

from baton.errors import FieldError, ValidationError
from baton.model.definitions import TaskDef, TaskType, WorkflowDef, WorkflowTask

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_TERMINATION_STATUSES = ("COMPLETED", "FAILED", "TERMINATED")
_SCRIPT_EVALUATORS = ("javascript", "graaljs")
_NOT_YET = frozenset(
    {
        "FORK_JOIN",
        "FORK_JOIN_DYNAMIC",
        "JOIN",
        "EXCLUSIVE_JOIN",
        "DO_WHILE",
        "SUB_WORKFLOW",
        "START_WORKFLOW",
        "DYNAMIC",
        "HTTP",
        "EVENT",
        "KAFKA_PUBLISH",
        "LAMBDA",
    }
)
_KNOWN_TYPES = frozenset(t.value for t in TaskType)


def validate_workflow_def(definition: WorkflowDef) -> None:
    """Raise ValidationError listing every problem of the definition, or return."""
    errors: list[FieldError] = []
    if not definition.name.strip():
        errors.append(FieldError("name", "must not be empty"))
    elif not _NAME.match(definition.name):
        errors.append(FieldError("name", "may hold only letters, digits, '_', '.' and '-'"))
    if definition.version < 1:
        errors.append(FieldError("version", "must be 1 or more"))
    if definition.timeout_seconds < 0:
        errors.append(FieldError("timeoutSeconds", "must not be negative"))
    if not definition.tasks:
        errors.append(FieldError("tasks", "must hold at least one task"))
    seen: dict[str, str] = {}
    _validate_tasks(definition.tasks, "tasks", seen, errors)
    if errors:
        raise ValidationError(errors=errors)


def _validate_tasks(tasks: list[WorkflowTask], path: str, seen: dict[str, str], errors: list[FieldError]) -> None:
    for index, task in enumerate(tasks):
        at = f"{path}[{index}]"
        _validate_task(task, at, errors)
        ref = task.task_reference_name
        if ref in seen:
            errors.append(FieldError(f"{at}.taskReferenceName", f"'{ref}' is already used at {seen[ref]}"))
        elif ref:
            seen[ref] = f"{at}.taskReferenceName"
        for key, branch in task.decision_cases.items():
            _validate_tasks(branch, f"{at}.decisionCases.{key}", seen, errors)
        _validate_tasks(task.default_case, f"{at}.defaultCase", seen, errors)


def _validate_task(task: WorkflowTask, at: str, errors: list[FieldError]) -> None:
    if not task.name.strip():
        errors.append(FieldError(f"{at}.name", "must not be empty"))
    if not task.task_reference_name.strip():
        errors.append(FieldError(f"{at}.taskReferenceName", "must not be empty"))
    if task.start_delay < 0:
        errors.append(FieldError(f"{at}.startDelay", "must not be negative"))
    kind = task.type
    if kind in _NOT_YET:
        errors.append(FieldError(f"{at}.type", f"task type {kind} is not supported yet"))
        return
    if kind not in _KNOWN_TYPES:
        errors.append(
            FieldError(
                f"{at}.type",
                f"unknown task type '{kind}' (use SIMPLE for a worker task; known: {', '.join(sorted(_KNOWN_TYPES))})",
            )
        )
        return
    params = task.input_parameters
    if kind == TaskType.SWITCH:
        if task.evaluator_type not in ("value-param", *_SCRIPT_EVALUATORS):
            errors.append(FieldError(f"{at}.evaluatorType", "must be 'value-param' or 'javascript' for a SWITCH"))
        if not task.expression:
            errors.append(FieldError(f"{at}.expression", "is required for a SWITCH"))
        if not task.decision_cases:
            errors.append(FieldError(f"{at}.decisionCases", "a SWITCH needs at least one case"))
    elif kind == TaskType.DECISION:
        if not task.case_value_param and not task.case_expression:
            errors.append(FieldError(f"{at}.caseValueParam", "a DECISION needs caseValueParam or caseExpression"))
        if not task.decision_cases:
            errors.append(FieldError(f"{at}.decisionCases", "a DECISION needs at least one case"))
    elif kind == TaskType.INLINE:
        evaluator = params.get("evaluatorType")
        if evaluator not in ("value-param", *_SCRIPT_EVALUATORS):
            errors.append(
                FieldError(f"{at}.inputParameters.evaluatorType", "must be 'javascript', 'graaljs' or 'value-param'")
            )
        if not isinstance(params.get("expression"), str) or not params["expression"]:
            errors.append(FieldError(f"{at}.inputParameters.expression", "is required for an INLINE task"))
    elif kind == TaskType.JSON_JQ_TRANSFORM:
        if not isinstance(params.get("queryExpression"), str) or not params["queryExpression"]:
            errors.append(FieldError(f"{at}.inputParameters.queryExpression", "is required for a JSON_JQ_TRANSFORM"))
    elif kind == TaskType.TERMINATE:
        status = params.get("terminationStatus")
        if status not in _TERMINATION_STATUSES:
            errors.append(
                FieldError(
                    f"{at}.inputParameters.terminationStatus",
                    f"must be one of {', '.join(_TERMINATION_STATUSES)}",
                )
            )
    if task.task_definition is not None:
        for error in task_def_errors(task.task_definition):
            errors.append(FieldError(f"{at}.taskDefinition.{error.path}", error.message))


def task_def_errors(task_def: TaskDef) -> list[FieldError]:
    errors: list[FieldError] = []
    if not task_def.name.strip():
        errors.append(FieldError("name", "must not be empty"))
    for field, value in (
        ("retryCount", task_def.retry_count),
        ("retryDelaySeconds", task_def.retry_delay_seconds),
        ("timeoutSeconds", task_def.timeout_seconds),
        ("backoffScaleFactor", task_def.backoff_scale_factor),
        ("pollTimeoutSeconds", task_def.poll_timeout_seconds),
        ("totalTimeoutSeconds", task_def.total_timeout_seconds),
        ("concurrentExecLimit", task_def.concurrent_exec_limit),
        ("rateLimitPerFrequency", task_def.rate_limit_per_frequency),
        ("rateLimitFrequencyInSeconds", task_def.rate_limit_frequency_in_seconds),
    ):
        if value is not None and value < 0:
            errors.append(FieldError(field, "must not be negative"))
    if task_def.response_timeout_seconds < 1:
        errors.append(FieldError("responseTimeoutSeconds", "must be 1 or more"))
    elif task_def.timeout_seconds > 0 and task_def.response_timeout_seconds > task_def.timeout_seconds:
        errors.append(FieldError("responseTimeoutSeconds", "must not exceed timeoutSeconds"))
    return errors


def validate_task_defs(task_defs: list[TaskDef], path: str = "") -> None:
    errors: list[FieldError] = []
    for index, task_def in enumerate(task_defs):
        prefix = f"{path}[{index}]." if path or len(task_defs) > 1 else ""
        errors.extend(FieldError(f"{prefix}{e.path}", e.message) for e in task_def_errors(task_def))
    if errors:
        raise ValidationError(errors=errors)
