"""Runs and their steps as Conductor's ``Workflow`` and ``Task`` JSON, and the requests that act on them.

Times are epoch milliseconds. A few fields are Baton's own and are not in
Conductor's shapes: ``Task.visible_at`` (when a queued task may be handed out,
or a timer fires), ``Task.lease_expires_at`` (when a worker's claim runs out),
``Task.first_scheduled_time`` (when the step's first attempt was scheduled:
``totalTimeoutSeconds`` counts from it) and ``timeout_alerted_at`` on tasks and
runs (when an ALERT_ONLY timeout was last raised: a deadline at or before it is
not raised again) and ``Task.secret_inputs`` (``model/secrets.py``). Clients that do not know them ignore them.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import msgspec

from baton.model.definitions import SERVER_QUEUED_TASK_TYPES, SYSTEM_TASK_TYPES, TaskDef, WorkflowDef, WorkflowTask
from baton.model.secrets import SecretInput


class WorkflowStatus(str, Enum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    TERMINATED = "TERMINATED"
    PAUSED = "PAUSED"

    @property
    def is_terminal(self) -> bool:
        return self not in (WorkflowStatus.RUNNING, WorkflowStatus.PAUSED)


class TaskStatus(str, Enum):
    SCHEDULED = "SCHEDULED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    COMPLETED_WITH_ERRORS = "COMPLETED_WITH_ERRORS"
    FAILED = "FAILED"
    FAILED_WITH_TERMINAL_ERROR = "FAILED_WITH_TERMINAL_ERROR"
    TIMED_OUT = "TIMED_OUT"
    CANCELED = "CANCELED"
    SKIPPED = "SKIPPED"

    @property
    def is_terminal(self) -> bool:
        return self not in (TaskStatus.SCHEDULED, TaskStatus.IN_PROGRESS)

    @property
    def is_successful(self) -> bool:
        return self in (TaskStatus.COMPLETED, TaskStatus.COMPLETED_WITH_ERRORS, TaskStatus.SKIPPED)


class Task(msgspec.Struct, rename="camel", kw_only=True):
    """One attempt at one step of a run (Conductor's ``Task``)."""

    task_id: str
    task_type: str
    reference_task_name: str
    workflow_instance_id: str
    workflow_type: str
    status: TaskStatus = TaskStatus.SCHEDULED
    task_def_name: str = ""
    seq: int = 0
    retry_count: int = 0
    poll_count: int = 0
    input_data: dict[str, Any] = {}
    output_data: dict[str, Any] = {}
    correlation_id: str | None = None
    workflow_priority: int = 0
    scheduled_time: int = 0
    start_time: int = 0
    end_time: int = 0
    update_time: int = 0
    start_delay_in_seconds: int = 0
    callback_after_seconds: int = 0
    response_timeout_seconds: int = 0
    retried_task_id: str | None = None
    retried: bool = False
    executed: bool = False
    callback_from_worker: bool = True
    worker_id: str | None = None
    reason_for_incompletion: str | None = None
    iteration: int = 0
    sub_workflow_id: str | None = None
    workflow_task: WorkflowTask | None = None
    visible_at: int = 0
    lease_expires_at: int = 0
    first_scheduled_time: int = 0
    """0 on a first attempt (its own ``scheduled_time`` is the first); retries carry it."""
    timeout_alerted_at: int = 0
    secret_inputs: list[SecretInput] | msgspec.UnsetType = msgspec.UNSET
    """Where the input holds ``***`` for a secret's value, filled in when the task is handed out; absent (not
    even written) on a task without secrets."""

    @property
    def is_worker_task(self) -> bool:
        """Run by an external worker (not a system task)."""
        return self.task_type not in SYSTEM_TASK_TYPES

    @property
    def is_queued_task(self) -> bool:
        """Handed out from the queue with a lease: a worker task, or a system task the server's executors run."""
        task_type = self.task_type
        return task_type not in SYSTEM_TASK_TYPES or task_type in SERVER_QUEUED_TASK_TYPES


class Workflow(msgspec.Struct, rename="camel", kw_only=True):
    """A run of a workflow definition (Conductor's ``Workflow``)."""

    workflow_id: str
    workflow_name: str
    workflow_version: int
    status: WorkflowStatus = WorkflowStatus.RUNNING
    correlation_id: str | None = None
    priority: int = 0
    input: dict[str, Any] = {}
    output: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    create_time: int = 0
    update_time: int = 0
    start_time: int = 0
    end_time: int = 0
    reason_for_incompletion: str | None = None
    failed_reference_task_names: list[str] = []
    failed_task_names: list[str] = []
    parent_workflow_id: str | None = None
    parent_workflow_task_id: str | None = None
    idempotency_key: str | None = None
    created_by: str | None = None
    last_retried_time: int = 0
    """When the run was last retried, rerun or restarted; its ``timeoutSeconds`` counts from then (else from
    ``create_time``)."""
    timeout_alerted_at: int = 0
    tasks: list[Task] = []


class IdempotencyStrategy(str, Enum):
    RETURN_EXISTING = "RETURN_EXISTING"
    FAIL = "FAIL"
    FAIL_ON_RUNNING = "FAIL_ON_RUNNING"


class StartWorkflowRequest(msgspec.Struct, rename="camel", kw_only=True):
    """Conductor's ``StartWorkflowRequest``."""

    name: str | None = None
    version: int | None = None
    correlation_id: str | None = None
    input: dict[str, Any] = {}
    priority: int = 0
    task_to_domain: dict[str, str] = {}
    workflow_def: WorkflowDef | None = None
    created_by: str | None = None
    idempotency_key: str | None = None
    idempotency_strategy: IdempotencyStrategy | None = None


class TaskResultStatus(str, Enum):
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    FAILED_WITH_TERMINAL_ERROR = "FAILED_WITH_TERMINAL_ERROR"


class TaskExecLog(msgspec.Struct, rename="camel", kw_only=True):
    log: str = ""
    task_id: str | None = None
    created_time: int = 0


class TaskResult(msgspec.Struct, rename="camel", kw_only=True):
    """What a worker reports for a task (Conductor's ``TaskResult``)."""

    task_id: str
    status: TaskResultStatus
    workflow_instance_id: str | None = None
    output_data: dict[str, Any] = {}
    reason_for_incompletion: str | None = None
    callback_after_seconds: int = 0
    worker_id: str | None = None
    logs: list[TaskExecLog] = []
    extend_lease: bool = False
    sub_workflow_id: str | None = None


class RerunWorkflowRequest(msgspec.Struct, rename="camel", kw_only=True):
    """Conductor's ``RerunWorkflowRequest``: run an ended run again from one task (or from the start)."""

    re_run_from_workflow_id: str | None = None
    workflow_input: dict[str, Any] | None = None
    re_run_from_task_id: str | None = None
    task_input: dict[str, Any] | None = None
    correlation_id: str | None = None


class SkipTaskRequest(msgspec.Struct, rename="camel", kw_only=True):
    """Conductor's ``SkipTaskRequest``: the input and output the skipped task gets."""

    task_input: dict[str, Any] = {}
    task_output: dict[str, Any] = {}
    task_input_message: Any = None
    task_output_message: Any = None


class BulkResponse(msgspec.Struct, rename="camel", kw_only=True):
    """Conductor's ``BulkResponse``: the ids an operation succeeded on, and why it failed on the others."""

    bulk_error_results: dict[str, str] = {}
    bulk_successful_results: list[str] = []


def default_task_def(name: str) -> TaskDef:
    """Conductor's defaults, for a task type nobody registered."""
    return TaskDef(name=name)


def task_def_for(step: WorkflowTask) -> TaskDef:
    """The settings a step runs with: its embedded definition, else the defaults."""
    return step.task_definition or default_task_def(step.name)
