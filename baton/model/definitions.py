"""Workflow and task definitions in Conductor's JSON shape (camelCase on the wire).

Structs are decoded with msgspec, which checks types and names the path of a
wrong one; rules that types cannot express live in ``validation.py``.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import msgspec

from baton.model.arguments import ArgumentDef


class TaskType(str, Enum):
    """The task types Baton knows. ``SIMPLE`` tasks are run by workers; the rest by the server.

    Most system tasks run inline, inside the decision that schedules them; the
    ones in ``SERVER_QUEUED_TASK_TYPES`` (they call out, or start other runs) are
    queued like worker tasks and run by the server's executors.
    """

    SIMPLE = "SIMPLE"
    INLINE = "INLINE"
    SWITCH = "SWITCH"
    DECISION = "DECISION"
    SET_VARIABLE = "SET_VARIABLE"
    TERMINATE = "TERMINATE"
    WAIT = "WAIT"
    HUMAN = "HUMAN"
    JSON_JQ_TRANSFORM = "JSON_JQ_TRANSFORM"
    NOOP = "NOOP"
    FORK_JOIN = "FORK_JOIN"
    FORK_JOIN_DYNAMIC = "FORK_JOIN_DYNAMIC"
    JOIN = "JOIN"
    EXCLUSIVE_JOIN = "EXCLUSIVE_JOIN"
    DO_WHILE = "DO_WHILE"
    DYNAMIC = "DYNAMIC"
    HTTP = "HTTP"
    EVENT = "EVENT"
    SUB_WORKFLOW = "SUB_WORKFLOW"
    START_WORKFLOW = "START_WORKFLOW"
    HTTP_ENDPOINT = "HTTP_ENDPOINT"
    HTTP_RESPONSE = "HTTP_RESPONSE"


FORK_TASK_TYPE = "FORK"
"""The ``taskType`` of the task a FORK_JOIN or FORK_JOIN_DYNAMIC step creates (Conductor's ``TASK_TYPE_FORK``)."""

SERVER_QUEUED_TASK_TYPES = frozenset(
    t.value for t in (TaskType.HTTP, TaskType.EVENT, TaskType.SUB_WORKFLOW, TaskType.START_WORKFLOW)
)
"""System tasks that are queued and claimed with a lease, like worker tasks, by executors inside ``baton serve``."""

UNSUPPORTED_TASK_TYPES = frozenset(
    {
        "CALL_MCP_TOOL",
        "GENERATE_AUDIO",
        "GENERATE_IMAGE",
        "GET_DOCUMENT",
        "HTTP_POLL",
        "KAFKA_PUBLISH",
        "LAMBDA",
        "LIST_MCP_TOOLS",
        "LLM_CHAT_COMPLETE",
        "LLM_GENERATE_EMBEDDINGS",
        "LLM_GET_EMBEDDINGS",
        "LLM_INDEX_DOCUMENT",
        "LLM_INDEX_TEXT",
        "LLM_SEARCH_EMBEDDINGS",
        "LLM_SEARCH_INDEX",
        "LLM_STORE_EMBEDDINGS",
        "LLM_TEXT_COMPLETE",
        "PULL_WORKFLOW_MESSAGES",
        "WAIT_FOR_WEBHOOK",
    }
)
"""System task types of Conductor (and of its official clients' builders) that Baton does not run.

A definition holding one is accepted, as Conductor accepts it; when the walk reaches the step, its
task fails with a terminal error (``Task type X is not supported by Baton``): an optional one lets
the run go on."""

SYSTEM_TASK_TYPES = frozenset(
    {*(t.value for t in TaskType if t is not TaskType.SIMPLE), FORK_TASK_TYPE, *UNSUPPORTED_TASK_TYPES}
)
"""Types run (or refused) by the server; any other type name is a worker task."""


class RetryLogic(str, Enum):
    FIXED = "FIXED"
    EXPONENTIAL_BACKOFF = "EXPONENTIAL_BACKOFF"
    LINEAR_BACKOFF = "LINEAR_BACKOFF"


class TaskTimeoutPolicy(str, Enum):
    RETRY = "RETRY"
    TIME_OUT_WF = "TIME_OUT_WF"
    ALERT_ONLY = "ALERT_ONLY"


class WorkflowTimeoutPolicy(str, Enum):
    TIME_OUT_WF = "TIME_OUT_WF"
    ALERT_ONLY = "ALERT_ONLY"


class SchemaDef(msgspec.Struct, rename="camel", kw_only=True):
    """A schema a definition's input or output must match (Conductor's ``SchemaDef``).

    Conductor OSS keeps only the reference; Baton enforces ``data``, a JSON Schema
    (``type: JSON``), when its definition says ``enforceSchema`` (``model/schemas.py``).
    """

    name: str | None = None
    version: int = 1
    type: str = "JSON"
    data: dict[str, Any] | None = None
    external_ref: str | None = None
    owner_app: str | None = None
    create_time: int | None = None
    update_time: int | None = None
    created_by: str | None = None
    updated_by: str | None = None


class TaskDef(msgspec.Struct, rename="camel", kw_only=True):
    """A task type's settings: retries, timeouts and limits (Conductor's ``TaskDef``).

    The defaults are Conductor's, and are what a task type without a registered
    definition gets. ``name`` may be left out only where the step around it names it
    (validation gives an embedded ``taskDefinition`` its step's name); elsewhere it is refused.
    """

    name: str = ""
    description: str | None = None
    retry_count: int = 3
    retry_logic: RetryLogic = RetryLogic.FIXED
    retry_delay_seconds: int = 60
    backoff_scale_factor: int = 1
    timeout_seconds: int = 0
    timeout_policy: TaskTimeoutPolicy = TaskTimeoutPolicy.TIME_OUT_WF
    response_timeout_seconds: int = 3600
    poll_timeout_seconds: int | None = None
    total_timeout_seconds: int | None = None
    concurrent_exec_limit: int | None = None
    rate_limit_per_frequency: int | None = None
    rate_limit_frequency_in_seconds: int | None = None
    input_keys: list[str] | None = None
    output_keys: list[str] | None = None
    input_template: dict[str, Any] | None = None
    owner_email: str | None = None
    owner_app: str | None = None
    create_time: int | None = None
    update_time: int | None = None
    created_by: str | None = None
    updated_by: str | None = None
    input_schema: SchemaDef | None = None
    output_schema: SchemaDef | None = None
    enforce_schema: bool = False


class SubWorkflowParams(msgspec.Struct, rename="camel", kw_only=True):
    """Which workflow a SUB_WORKFLOW step starts. ``name``, ``version`` and ``priority`` may be
    ``${...}`` expressions, resolved when the step starts its child."""

    name: str | None = None
    version: int | str | None = None
    priority: int | str | None = None
    workflow_definition: dict[str, Any] | None = None


class WorkflowTask(msgspec.Struct, rename="camel", kw_only=True):
    """One step of a workflow definition (Conductor's ``WorkflowTask``)."""

    name: str
    task_reference_name: str
    type: str = TaskType.SIMPLE.value
    description: str | None = None
    input_parameters: dict[str, Any] = {}
    optional: bool = False
    start_delay: int = 0
    async_complete: bool = False
    # SWITCH / DECISION
    evaluator_type: str | None = None
    expression: str | None = None
    case_value_param: str | None = None
    case_expression: str | None = None
    decision_cases: dict[str, list[WorkflowTask]] = {}
    default_case: list[WorkflowTask] = []
    # forks, loops and dynamic tasks
    fork_tasks: list[list[WorkflowTask]] = []
    join_on: list[str] = []
    dynamic_fork_tasks_param: str | None = None
    dynamic_fork_tasks_input_param_name: str | None = None
    dynamic_task_name_param: str | None = None
    loop_condition: str | None = None
    loop_over: list[WorkflowTask] = []
    items: Any = None
    """DO_WHILE over a list: the list, or an expression giving it (Conductor 3.x); ``inputParameters.items`` too."""
    sub_workflow_param: SubWorkflowParams | None = None
    sink: str | None = None
    script_expression: str | None = None
    default_exclusive_join_task: list[str] = []
    rate_limited: bool | None = None
    retry_count: int | None = None
    task_definition: TaskDef | None = None

    def children(self) -> list[list[WorkflowTask]]:
        """The nested task lists of this step (switch cases, fork branches, loop body)."""
        lists: list[list[WorkflowTask]] = list(self.decision_cases.values())
        if self.default_case:
            lists.append(self.default_case)
        lists.extend(self.fork_tasks)
        if self.loop_over:
            lists.append(self.loop_over)
        return lists


class CaseDef(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """What makes a definition's runs cases (Baton's own, for Ballerine's back office): whom they are about
    (``entityType``: ``business`` or ``individual``) and the queue they are listed in."""

    entity_type: str | None = None
    queue: str | None = None


class WorkflowDef(msgspec.Struct, rename="camel", kw_only=True):
    """A versioned workflow definition (Conductor's ``WorkflowDef``)."""

    name: str
    tasks: list[WorkflowTask]
    version: int = 1
    description: str | None = None
    input_parameters: list[str] = []
    output_parameters: dict[str, Any] = {}
    input_template: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    failure_workflow: str | None = None
    schema_version: int = 2
    restartable: bool = True
    workflow_status_listener_enabled: bool = False
    timeout_policy: WorkflowTimeoutPolicy = WorkflowTimeoutPolicy.ALERT_ONLY
    timeout_seconds: int = 0
    owner_email: str | None = None
    owner_app: str | None = None
    create_time: int | None = None
    update_time: int | None = None
    created_by: str | None = None
    updated_by: str | None = None
    input_schema: SchemaDef | None = None
    output_schema: SchemaDef | None = None
    enforce_schema: bool = False
    inputs: list[ArgumentDef] = []
    """The run's declared inputs (Elsa's): each start's input is checked against them (``model/arguments.py``)."""
    outputs: list[ArgumentDef] = []
    """The run's declared outputs: a description for clients, not checked."""
    case: CaseDef | None = None
    """Its runs are cases (``service/cases.py``); a definition with a HUMAN step is one without it too."""

    def all_tasks(self) -> list[WorkflowTask]:
        """Every step, nested ones included, depth first."""
        found: list[WorkflowTask] = []
        stack = list(reversed(self.tasks))
        while stack:
            task = stack.pop()
            found.append(task)
            for branch in reversed(task.children()):
                stack.extend(reversed(branch))
        return found
