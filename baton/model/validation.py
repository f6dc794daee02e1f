"""Rules on definitions (and start requests) that types alone cannot express. Each error names its field's path.

Values that are expressions (``${...}``) are checked when the task runs, not here. The one
change validation makes: an embedded ``taskDefinition`` without a name takes its step's name, as
Conductor does (its clients leave it out). What Conductor accepts and Baton fails at run time
instead is in ``docs/design.md`` ("What registration accepts").

Names, one rule for every kind (workflow, task definition, task, task reference, sub-workflow name):
1 to 255 characters, not blank, no control characters (U+0000-U+001F, U+007F); a workflow's name
also only letters, digits, ``_``, ``.`` and ``-``. Keys a client chooses (correlation ids, idempotency
keys): the same, except that they may be empty. At 255 characters a name and a key together stay within
what an entry of a PostgreSQL index holds (about 2,700 bytes), whatever the characters' UTF-8 length. Whole numbers of a
definition fit a Java int, as in Conductor (PostgreSQL's ``integer`` holds a version).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from baton.errors import FieldError, ValidationError
from baton.model.arguments import argument_errors
from baton.model.definitions import UNSUPPORTED_TASK_TYPES, SchemaDef, TaskDef, TaskType, WorkflowDef, WorkflowTask
from baton.model.http_endpoints import endpoint_errors, response_errors
from baton.model.schemas import schema_errors

_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_CHOSEN_ID = re.compile(r"[A-Za-z0-9_~:-][A-Za-z0-9_.:~-]*")
NAME_MAX_LENGTH = 255
INT32_MAX = 2**31 - 1
_TERMINATION_STATUSES = ("COMPLETED", "FAILED", "TERMINATED")
_SCRIPT_EVALUATORS = ("javascript", "graaljs")
_KNOWN_TYPES = frozenset(t.value for t in TaskType)
_FORK_TYPES = frozenset({TaskType.FORK_JOIN.value, TaskType.FORK_JOIN_DYNAMIC.value})
_FORK_TASK_NAME_KEYS = ("forkTaskName", "forkTaskType", "forkTaskWorkflow")
HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "OPTIONS", "HEAD", "PATCH", "TRACE")
EVENT_SINK_SCHEMES = ("webhook:http://", "webhook:https://")


def validate_workflow_def(definition: WorkflowDef) -> None:
    """Raise ValidationError listing every problem of the definition, or return."""
    errors: list[FieldError] = []
    problem = name_problem(definition.name)
    if problem:
        errors.append(FieldError("name", problem))
    elif not _NAME.match(definition.name):
        errors.append(FieldError("name", "may hold only letters, digits, '_', '.' and '-'"))
    if definition.version < 1:
        errors.append(FieldError("version", "must be 1 or more"))
    if definition.timeout_seconds < 0:
        errors.append(FieldError("timeoutSeconds", "must not be negative"))
    _check_int32(errors, "", version=definition.version, timeoutSeconds=definition.timeout_seconds)
    if not definition.tasks:
        errors.append(FieldError("tasks", "must hold at least one task"))
    _check_schemas(errors, definition.input_schema, definition.output_schema, definition.enforce_schema)
    errors.extend(argument_errors(definition.inputs, "inputs"))
    errors.extend(argument_errors(definition.outputs, "outputs"))
    _check_case(errors, definition)
    seen: dict[str, str] = {}
    exclusive_joins: list[tuple[WorkflowTask, str]] = []
    _validate_tasks(definition.tasks, "tasks", seen, errors, exclusive_joins)
    for task, at in exclusive_joins:
        for field, refs in (("joinOn", task.join_on), ("defaultExclusiveJoinTask", task.default_exclusive_join_task)):
            for index, ref in enumerate(refs):
                if ref not in seen:
                    errors.append(FieldError(f"{at}.{field}[{index}]", f"'{ref}' is not a task of this workflow"))
    if errors:
        raise ValidationError(errors=errors)


CASE_ENTITY_TYPES = ("business", "individual")


def _check_case(errors: list[FieldError], definition: WorkflowDef) -> None:
    case = definition.case
    if case is None:
        return
    if case.entity_type is not None and case.entity_type not in CASE_ENTITY_TYPES:
        errors.append(FieldError("case.entityType", f"must be one of {', '.join(CASE_ENTITY_TYPES)}"))
    if case.queue is not None:
        problem = name_problem(case.queue)
        if problem:
            errors.append(FieldError("case.queue", problem))


def _validate_tasks(
    tasks: list[WorkflowTask],
    path: str,
    seen: dict[str, str],
    errors: list[FieldError],
    exclusive_joins: list[tuple[WorkflowTask, str]],
) -> None:
    for index, task in enumerate(tasks):
        at = f"{path}[{index}]"
        _validate_task(task, at, errors)
        ref = task.task_reference_name
        if ref in seen:
            errors.append(FieldError(f"{at}.taskReferenceName", f"'{ref}' is already used at {seen[ref]}"))
        elif ref:
            seen[ref] = f"{at}.taskReferenceName"
        for key, branch in task.decision_cases.items():
            _validate_tasks(branch, f"{at}.decisionCases.{key}", seen, errors, exclusive_joins)
        _validate_tasks(task.default_case, f"{at}.defaultCase", seen, errors, exclusive_joins)
        for number, branch in enumerate(task.fork_tasks):
            _validate_tasks(branch, f"{at}.forkTasks[{number}]", seen, errors, exclusive_joins)
        _validate_tasks(task.loop_over, f"{at}.loopOver", seen, errors, exclusive_joins)
        _validate_neighbours(tasks, index, at, errors)
        if task.type == TaskType.EXCLUSIVE_JOIN:
            exclusive_joins.append((task, at))


def _validate_neighbours(tasks: list[WorkflowTask], index: int, at: str, errors: list[FieldError]) -> None:
    """A JOIN comes right after a fork and its ``joinOn`` names tasks of that fork.

    A fork need not be followed by a JOIN (Conductor accepts it, and the Python DSL's
    ``>> [[a], [b]]`` makes one): the steps after it start at once, beside its branches.
    """
    task = tasks[index]
    previous = tasks[index - 1] if index > 0 else None
    if task.type != TaskType.JOIN:
        return
    if previous is None or previous.type not in _FORK_TYPES:
        errors.append(FieldError(f"{at}.type", "a JOIN must come right after a FORK_JOIN or FORK_JOIN_DYNAMIC"))
        return
    if previous.type == TaskType.FORK_JOIN_DYNAMIC:
        return  # it joins the branches the dynamic fork makes
    forked = {t.task_reference_name for branch in previous.fork_tasks for t in _subtree(branch)}
    for number, ref in enumerate(task.join_on):
        if ref not in forked:
            errors.append(FieldError(f"{at}.joinOn[{number}]", f"'{ref}' is not a task of the fork before this JOIN"))


def _subtree(tasks: list[WorkflowTask]) -> list[WorkflowTask]:
    found: list[WorkflowTask] = []
    for task in tasks:
        found.append(task)
        for branch in task.children():
            found.extend(_subtree(branch))
    return found


def name_problem(value: str, *, may_be_blank: bool = False) -> str | None:
    """What is wrong with ``value`` as a name (or, ``may_be_blank``, a key); None if nothing."""
    if not may_be_blank and not value.strip():
        return "must not be empty"
    if len(value) > NAME_MAX_LENGTH:
        return f"must be at most {NAME_MAX_LENGTH} characters, got {len(value)}"
    found = _CONTROL.search(value)
    if found:
        return f"must not hold control characters (U+{ord(found.group()):04X} at {found.start()})"
    return None


def chosen_id_problem(value: str) -> str | None:
    """What is wrong with a run id a client chooses (a trigger's ``X-Workflow-Instance-ID``, Elsa's ``instanceId``).

    Stricter than a name: the id comes back in a header (Latin-1 only) and is a segment of every URL about the
    run (no ``/``, ``?``, ``#`` or space, and no ``.`` first, which a client would resolve as a dot segment).
    """
    problem = name_problem(value)
    if problem is None and not _CHOSEN_ID.fullmatch(value):
        problem = "may hold only letters, digits and '_ . : ~ -', and may not start with '.'"
    return problem


def _check_int32(errors: list[FieldError], prefix: str, **values: int | None) -> None:
    for field, value in values.items():
        if value is not None and not isinstance(value, bool) and abs(value) > INT32_MAX:
            errors.append(FieldError(f"{prefix}{field}", f"must be at most {INT32_MAX} in size"))


def start_request_errors(
    name: str | None, version: int | None, correlation_id: str | None, idempotency_key: str | None
) -> list[FieldError]:
    """The names, keys and numbers of a start request (the inline definition is checked on its own)."""
    errors: list[FieldError] = []
    if name is not None and name.strip():
        problem = name_problem(name)
        if problem:
            errors.append(FieldError("name", problem))
    for field, key in (("correlationId", correlation_id), ("idempotencyKey", idempotency_key)):
        if key is not None:
            problem = name_problem(key, may_be_blank=True)
            if problem:
                errors.append(FieldError(field, problem))
    _check_int32(errors, "", version=version)
    return errors


def task_result_errors(callback_after_seconds: int) -> list[FieldError]:
    """The numbers of a worker's result that become times (its task's next visibility)."""
    if callback_after_seconds > INT32_MAX:
        return [FieldError("callbackAfterSeconds", f"must be at most {INT32_MAX}")]
    return []


def _validate_task(task: WorkflowTask, at: str, errors: list[FieldError]) -> None:
    for field, value in (("name", task.name), ("taskReferenceName", task.task_reference_name)):
        problem = name_problem(value)
        if problem:
            errors.append(FieldError(f"{at}.{field}", problem))
    if task.start_delay < 0:
        errors.append(FieldError(f"{at}.startDelay", "must not be negative"))
    _check_int32(errors, f"{at}.", startDelay=task.start_delay, retryCount=task.retry_count)
    kind = task.type
    if kind in UNSUPPORTED_TASK_TYPES:
        return  # accepted as Conductor accepts it; its task fails when it is reached
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
    elif kind == TaskType.HTTP:
        _validate_http(params, f"{at}.inputParameters.http_request", errors)
    elif kind == TaskType.HTTP_ENDPOINT:
        # Only the workflow's first step may start it (``model/triggers.py`` reads that one).
        errors.extend(endpoint_errors(params, f"{at}.inputParameters", may_start=at == "tasks[0]"))
    elif kind == TaskType.HTTP_RESPONSE:
        errors.extend(response_errors(params, f"{at}.inputParameters"))
    elif kind == TaskType.EVENT:
        # As Conductor: a sink is required; which ones Baton reaches is decided when the task runs.
        if not isinstance(task.sink, str) or not task.sink.strip():
            errors.append(FieldError(f"{at}.sink", "is required for an EVENT task (e.g. 'conductor:<name>')"))
    elif kind == TaskType.SUB_WORKFLOW:
        _validate_sub_workflow(task, f"{at}.subWorkflowParam", errors)
    elif kind == TaskType.START_WORKFLOW:
        spec = params.get("startWorkflow")
        if not isinstance(spec, dict):
            errors.append(FieldError(f"{at}.inputParameters.startWorkflow", "is required for a START_WORKFLOW task"))
        elif not isinstance(spec.get("name"), str) or not spec["name"].strip():
            errors.append(FieldError(f"{at}.inputParameters.startWorkflow.name", "is required"))
    elif kind == TaskType.TERMINATE:
        status = params.get("terminationStatus")
        if status not in _TERMINATION_STATUSES:
            errors.append(
                FieldError(
                    f"{at}.inputParameters.terminationStatus",
                    f"must be one of {', '.join(_TERMINATION_STATUSES)}",
                )
            )
    else:
        _validate_flow_task(task, at, errors)
    if task.task_definition is not None:
        if not task.task_definition.name:
            task.task_definition.name = task.name  # Conductor's clients embed task definitions without one
        for error in task_def_errors(task.task_definition):
            errors.append(FieldError(f"{at}.taskDefinition.{error.path}", error.message))


def _validate_flow_task(task: WorkflowTask, at: str, errors: list[FieldError]) -> None:
    """The control-flow types: forks, joins, loops and dynamic tasks."""
    kind, params = task.type, task.input_parameters
    if kind == TaskType.FORK_JOIN:
        if not task.fork_tasks:
            errors.append(FieldError(f"{at}.forkTasks", "a FORK_JOIN needs at least one branch"))
        for number, branch in enumerate(task.fork_tasks):
            if not branch:
                errors.append(FieldError(f"{at}.forkTasks[{number}]", "a branch needs at least one task"))
    elif kind == TaskType.FORK_JOIN_DYNAMIC:
        if any(key in params for key in _FORK_TASK_NAME_KEYS):
            if "forkTaskInputs" not in params:
                errors.append(
                    FieldError(f"{at}.inputParameters.forkTaskInputs", "is required with forkTaskName or forkTaskType")
                )
            return
        for field, name in (
            ("dynamicForkTasksParam", task.dynamic_fork_tasks_param),
            ("dynamicForkTasksInputParamName", task.dynamic_fork_tasks_input_param_name),
        ):
            if not name:
                errors.append(
                    FieldError(
                        f"{at}.{field}",
                        "is required for a FORK_JOIN_DYNAMIC (or inputParameters.forkTaskName with forkTaskInputs)",
                    )
                )
    elif kind == TaskType.DO_WHILE:
        has_items = task.items is not None or "items" in params
        if not has_items and not (task.loop_condition or "").strip():
            errors.append(FieldError(f"{at}.loopCondition", "is required for a DO_WHILE (unless it loops over items)"))
        if not task.loop_over:
            errors.append(FieldError(f"{at}.loopOver", "a DO_WHILE needs at least one task to loop over"))
        keep = params.get("keepLastN")
        expression = isinstance(keep, str) and "${" in keep
        if keep is not None and not expression and (isinstance(keep, bool) or not isinstance(keep, int) or keep < 1):
            errors.append(FieldError(f"{at}.inputParameters.keepLastN", "must be a whole number, 1 or more"))
    elif kind == TaskType.DYNAMIC:
        name = task.dynamic_task_name_param
        if not name:
            errors.append(FieldError(f"{at}.dynamicTaskNameParam", "is required for a DYNAMIC task"))
        elif name not in params:
            errors.append(FieldError(f"{at}.inputParameters.{name}", "is required: dynamicTaskNameParam names it"))
    elif kind == TaskType.EXCLUSIVE_JOIN and not task.join_on:
        errors.append(FieldError(f"{at}.joinOn", "an EXCLUSIVE_JOIN needs at least one task to join on"))


def _is_expression(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _validate_http(params: dict[str, Any], at: str, errors: list[FieldError]) -> None:
    request = params.get("http_request")
    if _is_expression(request):
        return
    if not isinstance(request, dict):
        errors.append(FieldError(at, "is required for an HTTP task (an object with uri and method)"))
        return
    # The uri is not checked here: Conductor accepts any, and its task fails when it runs (with the reason).
    method = request.get("method", "GET")
    if not isinstance(method, str) or not (method.upper() in HTTP_METHODS or _is_expression(method)):
        errors.append(FieldError(f"{at}.method", f"must be one of {', '.join(HTTP_METHODS)}"))
    for field in ("connectionTimeOut", "readTimeOut"):
        value = request.get(field)
        if value is not None and not _is_expression(value) and (not isinstance(value, int) or value <= 0):
            errors.append(FieldError(f"{at}.{field}", "must be a positive number of milliseconds"))
    headers = request.get("headers")
    if headers is not None and not isinstance(headers, dict) and not _is_expression(headers):
        errors.append(FieldError(f"{at}.headers", "must be an object"))


def _validate_sub_workflow(task: WorkflowTask, at: str, errors: list[FieldError]) -> None:
    params = task.sub_workflow_param
    if params is None:
        errors.append(FieldError(at, "is required for a SUB_WORKFLOW task"))
        return
    if params.workflow_definition is not None:
        try:
            inline = msgspec.convert(params.workflow_definition, WorkflowDef)
        except msgspec.ValidationError as exc:
            errors.append(FieldError(f"{at}.workflowDefinition", str(exc)))
            return
        try:
            validate_workflow_def(inline)
        except ValidationError as exc:
            errors.extend(FieldError(f"{at}.workflowDefinition.{e.path}", e.message) for e in exc.errors)
        return
    if not params.name or not params.name.strip():
        errors.append(FieldError(f"{at}.name", "is required (or an inline workflowDefinition)"))
    else:
        problem = name_problem(params.name)
        if problem:
            errors.append(FieldError(f"{at}.name", problem))
    if not _whole(params.version, minimum=1):
        errors.append(
            FieldError(f"{at}.version", "must be a whole number, 1 or more (Conductor's version is an integer)")
        )
    if not _whole_or_expression(params.priority, minimum=0, maximum=99):
        errors.append(FieldError(f"{at}.priority", "must be between 0 and 99, or a ${...} expression"))


def _whole(value: int | str | None, *, minimum: int) -> bool:
    """A ``subWorkflowParam.version``: absent or a whole number in range (digits in a string too).

    Not an expression: Conductor's ``SubWorkflowParams.version`` is an ``Integer``, and its
    clients cannot read back a definition holding ``"${...}"`` there (conductor-python's
    ``get_all_workflow_defs()`` returns None for the whole list).
    """
    return value is None or (not _is_expression(value) and _whole_or_expression(value, minimum=minimum))


def _whole_or_expression(value: int | str | None, *, minimum: int, maximum: int | None = None) -> bool:
    """A ``subWorkflowParam`` number: absent, an expression, or a whole number in range (digits in a string too)."""
    if value is None or _is_expression(value):
        return True
    if isinstance(value, str):
        if not (value.strip().isascii() and value.strip().isdigit()) or len(value.strip()) > 10:
            return False
        value = int(value)
    return minimum <= value <= (INT32_MAX if maximum is None else maximum)


def task_def_errors(task_def: TaskDef) -> list[FieldError]:
    errors: list[FieldError] = []
    problem = name_problem(task_def.name)
    if problem:
        errors.append(FieldError("name", problem))
    _check_int32(
        errors,
        "",
        retryCount=task_def.retry_count,
        retryDelaySeconds=task_def.retry_delay_seconds,
        timeoutSeconds=task_def.timeout_seconds,
        backoffScaleFactor=task_def.backoff_scale_factor,
        responseTimeoutSeconds=task_def.response_timeout_seconds,
        pollTimeoutSeconds=task_def.poll_timeout_seconds,
        totalTimeoutSeconds=task_def.total_timeout_seconds,
        concurrentExecLimit=task_def.concurrent_exec_limit,
        rateLimitPerFrequency=task_def.rate_limit_per_frequency,
        rateLimitFrequencyInSeconds=task_def.rate_limit_frequency_in_seconds,
    )
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
    _check_schemas(errors, task_def.input_schema, task_def.output_schema, task_def.enforce_schema)
    if task_def.response_timeout_seconds < 1:
        errors.append(FieldError("responseTimeoutSeconds", "must be 1 or more"))
    elif task_def.timeout_seconds > 0 and task_def.response_timeout_seconds > task_def.timeout_seconds:
        errors.append(FieldError("responseTimeoutSeconds", "must not exceed timeoutSeconds"))
    return errors


def _check_schemas(
    errors: list[FieldError], input_schema: SchemaDef | None, output_schema: SchemaDef | None, enforced: bool
) -> None:
    for field, schema in (("inputSchema", input_schema), ("outputSchema", output_schema)):
        for path, message in schema_errors(schema, enforced=enforced):
            errors.append(FieldError(f"{field}.{path}", message))


def carries_schemas(definitions: list[WorkflowDef] | list[TaskDef]) -> bool:
    """Whether checking these definitions means checking a schema (a check worth a thread, ``model/schemas.py``)."""
    for definition in definitions:
        if definition.input_schema is not None or definition.output_schema is not None:
            return True
        if isinstance(definition, WorkflowDef):
            for task in definition.all_tasks():
                embedded = task.task_definition
                if embedded is not None and (embedded.input_schema is not None or embedded.output_schema is not None):
                    return True
                inline = task.sub_workflow_param.workflow_definition if task.sub_workflow_param else None
                if inline is not None and _mentions_schemas(inline):
                    return True
    return False


def _mentions_schemas(value: Any) -> bool:
    if isinstance(value, dict):
        return "inputSchema" in value or "outputSchema" in value or any(_mentions_schemas(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_schemas(item) for item in value)
    return False


def validate_task_defs(task_defs: list[TaskDef], path: str = "") -> None:
    errors: list[FieldError] = []
    for index, task_def in enumerate(task_defs):
        prefix = f"{path}[{index}]." if path or len(task_defs) > 1 else ""
        errors.extend(FieldError(f"{prefix}{e.path}", e.message) for e in task_def_errors(task_def))
    if errors:
        raise ValidationError(errors=errors)
