"""Definitions and waits shared by the SDK tests that run against a real server."""

from __future__ import annotations

import time
import uuid
from typing import Any

from baton.model import TaskDef, Workflow, WorkflowDef, WorkflowStatus, WorkflowTask
from baton.sdk import BatonClient, BatonConnectionError


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def chain(name: str, steps: list[str], **extra: Any) -> WorkflowDef:
    """Worker steps in a row: step i gets ``x`` from the run's input (i = 0) or step i-1's output."""
    tasks = []
    for index, step in enumerate(steps):
        source = "${workflow.input.x}" if index == 0 else f"${{s{index - 1}.output.x}}"
        tasks.append(WorkflowTask(name=step, task_reference_name=f"s{index}", input_parameters={"x": source}))
    last = f"s{len(steps) - 1}"
    return WorkflowDef(name=name, tasks=tasks, output_parameters={"x": f"${{{last}.output.x}}"}, **extra)


def quick_task_def(name: str, *, retry_count: int = 0) -> TaskDef:
    """A task type that retries at once, so failure tests do not wait out Conductor's 60 s default."""
    return TaskDef(
        name=name, retry_count=retry_count, retry_delay_seconds=0, response_timeout_seconds=30, timeout_seconds=60
    )


def wait_until_ended(client: BatonClient, workflow_id: str, timeout: float = 30.0) -> Workflow:
    deadline = time.monotonic() + timeout
    while True:
        try:
            run = client.get_workflow(workflow_id)
        except BatonConnectionError:
            # The server may be restarting (a test killed it); keep asking until the deadline.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        if run.status.is_terminal:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {workflow_id} still {run.status.value} after {timeout}s: {run}")
        time.sleep(0.05)


def wait_for_status(client: BatonClient, workflow_id: str, status: WorkflowStatus, timeout: float = 30.0) -> Workflow:
    run = wait_until_ended(client, workflow_id, timeout)
    assert run.status is status, run
    return run
