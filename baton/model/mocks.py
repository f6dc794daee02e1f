"""Conductor's ``WorkflowTestRequest``: a start whose worker steps are answered from given outputs (``POST
/api/workflow/test``), and the ``TaskMock`` each answer is."""

from __future__ import annotations

from typing import Any

import msgspec

from baton.model.runs import StartWorkflowRequest, TaskResultStatus


class TaskMock(msgspec.Struct, rename="camel", kw_only=True):
    """One attempt's answer: the status and output a worker would have reported.

    ``executionTime`` and ``queueWaitTime`` are accepted for Conductor's clients and not used: the
    attempt's times are those it really had.
    """

    status: TaskResultStatus = TaskResultStatus.COMPLETED
    output: dict[str, Any] | None = None
    execution_time: int = 0
    queue_wait_time: int = 0


class WorkflowTestRequest(StartWorkflowRequest, kw_only=True):
    """A ``StartWorkflowRequest`` with the answers: per reference name, one mock per attempt, used in order;
    per SUB_WORKFLOW reference name, the test request its child runs under (its name and version are the
    step's, not the request's)."""

    task_ref_to_mock_output: dict[str, list[TaskMock]] = {}
    sub_workflow_test_request: dict[str, WorkflowTestRequest] = {}
