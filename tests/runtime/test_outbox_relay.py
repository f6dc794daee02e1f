"""The outbox relay: a signal whose process never acted on it (it died right after the commit) is still delivered.

The service runs on a real store with ``signal_handler`` unset, which is what a
process killed between a decision's commit and acting on its signals leaves
behind; then the relay, as any server would run it, delivers them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from baton.model import StartWorkflowRequest, TaskResult, TaskResultStatus, TaskStatus, WorkflowStatus
from baton.runtime.relay import OutboxRelay
from baton.service import Baton
from tests.runtime.relay_support import T0, relay_later, service_left_to_the_relay

pytestmark = pytest.mark.timeout(60)


CHILD: dict[str, Any] = {
    "name": "child",
    "tasks": [{"name": "child_work", "taskReferenceName": "work", "type": "SIMPLE"}],
    "outputParameters": {"doubled": "${work.output.doubled}"},
}
PARENT: dict[str, Any] = {
    "name": "parent",
    "tasks": [
        {
            "name": "run_child",
            "taskReferenceName": "sub",
            "type": "SUB_WORKFLOW",
            "subWorkflowParam": {"name": "child"},
        }
    ],
}


@pytest.fixture
async def service(store_url: str) -> AsyncIterator[Baton]:
    async with service_left_to_the_relay(store_url, CHILD, PARENT) as baton:
        yield baton


async def _parent_waiting_on_child(service: Baton) -> tuple[str, str]:
    """A parent whose SUB_WORKFLOW task runs its child, as the executor leaves it; (parent id, child id)."""
    parent = await service.runs.start(StartWorkflowRequest(name="parent"))
    [sub] = await service.store.claim_tasks("SUB_WORKFLOW", worker_id="server", count=1, now=T0)
    child = await service.children.start_child(sub)
    await service.tasks.update(
        TaskResult(
            task_id=sub.task_id,
            workflow_instance_id=parent.workflow_id,
            status=TaskResultStatus.IN_PROGRESS,
            sub_workflow_id=child.workflow_id,
        )
    )
    return parent.workflow_id, child.workflow_id


async def test_a_childs_end_reaches_its_parent_through_the_relay(service: Baton) -> None:
    parent_id, child_id = await _parent_waiting_on_child(service)
    [work] = await service.tasks.poll("child_work", worker_id="w")
    await service.tasks.update(
        TaskResult(task_id=work.task_id, status=TaskResultStatus.COMPLETED, output_data={"doubled": 6})
    )
    assert (await service.runs.get(child_id)).status is WorkflowStatus.COMPLETED
    assert (await service.runs.get(parent_id)).status is WorkflowStatus.RUNNING
    assert await OutboxRelay(service).relay_once() == 0, "a fresh signal is left to the process that wrote it"

    assert await relay_later(service) == 1
    parent = await service.runs.get(parent_id)
    assert parent.status is WorkflowStatus.COMPLETED
    assert parent.tasks[0].output_data == {"doubled": 6, "subWorkflowId": child_id}
    assert await relay_later(service) == 0, "a delivered signal leaves the outbox"


async def test_a_terminated_parents_child_is_terminated_through_the_relay(service: Baton) -> None:
    parent_id, child_id = await _parent_waiting_on_child(service)
    await service.runs.terminate(parent_id, "stop")
    assert (await service.runs.get(child_id)).status is WorkflowStatus.RUNNING
    assert await relay_later(service) == 1
    child = await service.runs.get(child_id)
    assert child.status is WorkflowStatus.TERMINATED
    # The child's own end signals its (ended) parent: delivering it is a no-op, and it leaves the outbox too.
    assert await relay_later(service) == 1
    assert await relay_later(service) == 0
    assert (await service.runs.get(parent_id)).status is WorkflowStatus.TERMINATED


async def _parent_failed_by_child(service: Baton) -> tuple[str, str]:
    """A parent FAILED because its child's step failed for good; (parent id, child id)."""
    parent_id, child_id = await _parent_waiting_on_child(service)
    [work] = await service.tasks.poll("child_work", worker_id="w")
    await service.tasks.update(TaskResult(task_id=work.task_id, status=TaskResultStatus.FAILED_WITH_TERMINAL_ERROR))
    assert await relay_later(service) == 1
    assert (await service.runs.get(parent_id)).status is WorkflowStatus.FAILED
    return parent_id, child_id


async def test_a_resumed_parents_child_is_retried_through_the_relay(service: Baton) -> None:
    parent_id, child_id = await _parent_failed_by_child(service)
    await service.operations.retry(parent_id, resume_subworkflow_tasks=True)
    # The parent's decision committed; the process "died" before it retried the child.
    parent = await service.runs.get(parent_id)
    assert parent.status is WorkflowStatus.RUNNING and parent.tasks[0].status is TaskStatus.IN_PROGRESS
    assert (await service.runs.get(child_id)).status is WorkflowStatus.FAILED

    assert await relay_later(service) == 1
    child = await service.runs.get(child_id)
    assert child.status is WorkflowStatus.RUNNING
    assert [t.status.value for t in child.tasks] == ["FAILED_WITH_TERMINAL_ERROR", "SCHEDULED"]
    assert await relay_later(service) == 0


async def test_a_retried_childs_parent_waits_again_through_the_relay(service: Baton) -> None:
    parent_id, child_id = await _parent_failed_by_child(service)
    await service.operations.retry(child_id)
    assert (await service.runs.get(parent_id)).status is WorkflowStatus.FAILED

    assert await relay_later(service) == 1
    parent = await service.runs.get(parent_id)
    assert parent.status is WorkflowStatus.RUNNING
    assert (parent.tasks[0].status, parent.tasks[0].sub_workflow_id) == (TaskStatus.IN_PROGRESS, child_id)
    [work] = await service.tasks.poll("child_work", worker_id="w")
    await service.tasks.update(
        TaskResult(task_id=work.task_id, status=TaskResultStatus.COMPLETED, output_data={"doubled": 8})
    )
    assert await relay_later(service) == 1
    assert (await service.runs.get(parent_id)).status is WorkflowStatus.COMPLETED
