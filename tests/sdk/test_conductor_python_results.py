"""conductor-python's task client reporting a result whose ``workflowInstanceId`` is not its task's run.

Conductor finds a result's task by its id alone, and conductor-python's own integration tests rely on
it (a worker thread that names the run of another thread's task). Baton applies such a result to the
run that holds the task, over ``/api/tasks`` and ``/api/tasks/update-v2``; the run it named is left as
it was. A task id that no run holds is still a 404.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("conductor.client")

from conductor.client.configuration.configuration import Configuration
from conductor.client.http.models.task import Task
from conductor.client.http.models.task_result import TaskResult
from conductor.client.http.models.task_result_status import TaskResultStatus
from conductor.client.http.models.workflow import Workflow
from conductor.client.http.models.workflow_def import WorkflowDef
from conductor.client.http.models.workflow_task import WorkflowTask
from conductor.client.http.rest import ApiException
from conductor.client.orkes.orkes_metadata_client import OrkesMetadataClient
from conductor.client.orkes.orkes_task_client import OrkesTaskClient
from conductor.client.orkes.orkes_workflow_client import OrkesWorkflowClient

from tests.helpers import conductor_configuration, unique

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning"),
]


@pytest.fixture
def config(server: Any) -> Configuration:
    return conductor_configuration(server.url)


@pytest.fixture
def clients(config: Configuration) -> Iterator[tuple[OrkesWorkflowClient, OrkesTaskClient, str]]:
    """The workflow and task clients, and a one-step workflow of a task type of its own."""
    task_type = unique("cpy_owner_step")
    name = unique("cpy_owner_flow")
    OrkesMetadataClient(config).register_workflow_def(
        WorkflowDef(
            name=name,
            version=1,
            tasks=[WorkflowTask(name=task_type, task_reference_name="step", type="SIMPLE")],
            output_parameters={"x": "${step.output.x}"},
            owner_email="test@example.com",
        ),
        overwrite=True,
    )
    yield OrkesWorkflowClient(config), OrkesTaskClient(config), name


def start_two(workflows: OrkesWorkflowClient, tasks: OrkesTaskClient, name: str) -> tuple[str, str, Task]:
    """Two runs of ``name``; returns their ids and the first run's task, claimed."""
    first = workflows.start_workflow_by_name(name, {})
    second = workflows.start_workflow_by_name(name, {})
    task_type = workflows.get_workflow(first, include_tasks=True).tasks[0].task_def_name
    claimed = tasks.batch_poll_tasks(task_type, worker_id="cpy", count=2, timeout_in_millisecond=2000)
    (task,) = [t for t in claimed if t.workflow_instance_id == first]
    return first, second, task


def result_for(task_id: str, named_run: str, x: int) -> TaskResult:
    result = TaskResult(task_id=task_id, workflow_instance_id=named_run, worker_id="cpy")
    result.status = TaskResultStatus.COMPLETED
    result.output_data = {"x": x}
    return result


def ended(workflows: OrkesWorkflowClient, workflow_id: str) -> Workflow:
    deadline = time.monotonic() + 15
    while True:
        run = workflows.get_workflow(workflow_id, include_tasks=True)
        if run.status != "RUNNING" or time.monotonic() > deadline:
            return run
        time.sleep(0.05)


def test_a_result_naming_another_run_completes_its_own_task(
    clients: tuple[OrkesWorkflowClient, OrkesTaskClient, str],
) -> None:
    workflows, tasks, name = clients
    first, second, task = start_two(workflows, tasks, name)

    assert tasks.update_task(result_for(task.task_id, second, 4)) == task.task_id

    run = ended(workflows, first)
    assert (run.status, run.output) == ("COMPLETED", {"x": 4})
    other = workflows.get_workflow(second, include_tasks=True)
    assert other.status == "RUNNING"
    assert [t.status for t in other.tasks] == ["IN_PROGRESS"]  # the second run's task, claimed, untouched


def test_a_result_naming_a_run_that_does_not_exist_completes_its_own_task(
    clients: tuple[OrkesWorkflowClient, OrkesTaskClient, str],
) -> None:
    workflows, tasks, name = clients
    first, _, task = start_two(workflows, tasks, name)

    assert tasks.update_task(result_for(task.task_id, "no-such-run", 5)) == task.task_id

    assert (ended(workflows, first).output) == {"x": 5}


def test_update_v2_naming_another_run_completes_its_own_task(
    clients: tuple[OrkesWorkflowClient, OrkesTaskClient, str],
) -> None:
    workflows, tasks, name = clients
    first, second, task = start_two(workflows, tasks, name)

    tasks.taskResourceApi.update_task_v2(result_for(task.task_id, second, 6))

    assert (ended(workflows, first).output) == {"x": 6}
    assert workflows.get_workflow(second, include_tasks=False).status == "RUNNING"


def test_a_task_no_run_holds_is_still_not_found(
    clients: tuple[OrkesWorkflowClient, OrkesTaskClient, str],
) -> None:
    workflows, tasks, name = clients
    first = workflows.start_workflow_by_name(name, {})

    with pytest.raises(ApiException) as caught:
        tasks.update_task(result_for("no-such-task", first, 1))
    assert caught.value.status == 404
    assert workflows.get_workflow(first, include_tasks=True).tasks[0].status == "SCHEDULED"
