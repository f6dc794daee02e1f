"""Definitions and runs as typed data, JSON in and out."""

from baton.model.definitions import (
    SYSTEM_TASK_TYPES,
    RetryLogic,
    SubWorkflowParams,
    TaskDef,
    TaskTimeoutPolicy,
    TaskType,
    WorkflowDef,
    WorkflowTask,
    WorkflowTimeoutPolicy,
)
from baton.model.runs import (
    IdempotencyStrategy,
    StartWorkflowRequest,
    Task,
    TaskExecLog,
    TaskResult,
    TaskResultStatus,
    TaskStatus,
    Workflow,
    WorkflowStatus,
    default_task_def,
    task_def_for,
)

__all__ = [
    "SYSTEM_TASK_TYPES",
    "IdempotencyStrategy",
    "RetryLogic",
    "StartWorkflowRequest",
    "SubWorkflowParams",
    "Task",
    "TaskDef",
    "TaskExecLog",
    "TaskResult",
    "TaskResultStatus",
    "TaskStatus",
    "TaskTimeoutPolicy",
    "TaskType",
    "Workflow",
    "WorkflowDef",
    "WorkflowStatus",
    "WorkflowTask",
    "WorkflowTimeoutPolicy",
    "default_task_def",
    "task_def_for",
]
