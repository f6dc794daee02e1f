"""The official conductor-python client (2.0.0), unchanged, against a real ``baton serve``.

Its metadata and workflow clients register and start runs; its ``TaskHandler``
(one spawned process per worker, polling ``/api/tasks/poll/batch`` and
reporting with ``/api/tasks/update-v2``) runs the workers in
``conductor_workers.py`` to the end.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("conductor.client")

from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.models.start_workflow_request import StartWorkflowRequest
from conductor.client.http.models.task_def import TaskDef
from conductor.client.http.models.task_result import TaskResult
from conductor.client.http.models.task_result_status import TaskResultStatus
from conductor.client.http.models.workflow import Workflow
from conductor.client.http.models.workflow_def import WorkflowDef
from conductor.client.http.models.workflow_task import WorkflowTask
from conductor.client.http.rest import ApiException
from conductor.client.orkes.orkes_metadata_client import OrkesMetadataClient
from conductor.client.orkes.orkes_task_client import OrkesTaskClient
from conductor.client.orkes.orkes_workflow_client import OrkesWorkflowClient

from tests.helpers import conductor_configuration

pytestmark = [
    pytest.mark.timeout(120),
    # conductor-python's own models call their deprecated accessors (owner_app) when reading definitions.
    pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning"),
]


@pytest.fixture
def config(server: Any) -> Configuration:
    return conductor_configuration(server.url)


@pytest.fixture
def handler(config: Configuration) -> Iterator[Callable[[], TaskHandler]]:
    """Starts conductor-python's TaskHandler on demand; always stops its processes."""
    started: list[TaskHandler] = []

    def start() -> TaskHandler:
        task_handler = TaskHandler(
            configuration=config,
            scan_for_annotated_workers=True,
            import_modules=["tests.sdk.conductor_workers"],
            monitor_processes=False,
        )
        started.append(task_handler)
        task_handler.start_processes()
        return task_handler

    yield start
    for task_handler in started:
        task_handler.stop_processes()


def steps_def(name: str, steps: list[str]) -> WorkflowDef:
    tasks = []
    for index, step in enumerate(steps):
        source = "${workflow.input.x}" if index == 0 else f"${{s{index - 1}.output.x}}"
        tasks.append(
            WorkflowTask(name=step, task_reference_name=f"s{index}", type="SIMPLE", input_parameters={"x": source})
        )
    last = f"s{len(steps) - 1}"
    return WorkflowDef(
        name=name,
        version=1,
        tasks=tasks,
        output_parameters={"x": f"${{{last}.output.x}}"},
        schema_version=2,
        owner_email="test@example.com",
    )


def wait_until_ended(client: OrkesWorkflowClient, workflow_id: str, timeout: float = 60.0) -> Workflow:
    deadline = time.monotonic() + timeout
    while True:
        run = client.get_workflow(workflow_id, include_tasks=True)
        if run.status not in ("RUNNING", "PAUSED"):
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {workflow_id} still {run.status}: {run}")
        time.sleep(0.1)


@pytest.mark.own_server  # lists every definition: conductor-python answers None for the suite's mix
def test_metadata_client(config: Configuration) -> None:
    metadata = OrkesMetadataClient(config)
    metadata.register_task_def(TaskDef(name="cpy_meta_task", retry_count=0))
    assert metadata.get_task_def("cpy_meta_task").retry_count == 0
    metadata.update_task_def(TaskDef(name="cpy_meta_task", retry_count=2))
    assert metadata.get_task_def("cpy_meta_task").retry_count == 2
    assert "cpy_meta_task" in {d.name for d in metadata.get_all_task_defs()}

    metadata.register_workflow_def(steps_def("cpy_meta_flow", ["cpy_meta_task"]), overwrite=True)
    metadata.register_workflow_def(steps_def("cpy_meta_flow", ["cpy_meta_task"]), overwrite=True)
    got = metadata.get_workflow_def("cpy_meta_flow")
    assert (got.name, got.version, got.tasks[0].task_reference_name) == ("cpy_meta_flow", 1, "s0")
    second = steps_def("cpy_meta_flow", ["cpy_meta_task", "cpy_meta_task"])
    second.version = 2
    metadata.update_workflow_def(second, overwrite=True)
    assert len(metadata.get_workflow_def("cpy_meta_flow", version=2).tasks) == 2
    assert "cpy_meta_flow" in {d.name for d in metadata.get_all_workflow_defs()}
    metadata.unregister_workflow_def("cpy_meta_flow", 2)
    metadata.unregister_task_def("cpy_meta_task")
    with pytest.raises(ApiException) as caught:
        metadata.get_task_def("cpy_meta_task")
    assert caught.value.status == 404


def test_task_handler_completes_runs_started_both_ways(
    config: Configuration, handler: Callable[[], TaskHandler]
) -> None:
    metadata = OrkesMetadataClient(config)
    workflows = OrkesWorkflowClient(config)
    metadata.register_workflow_def(
        steps_def("cpy_three_steps", ["cpy_add_one", "cpy_double", "cpy_add_one"]), overwrite=True
    )
    by_name = workflows.start_workflow_by_name("cpy_three_steps", {"x": 3}, correlationId="cpy-corr")
    # StartWorkflowRequest always carries "idempotencyStrategy": "FAIL", with no key.
    by_request = workflows.start_workflow(StartWorkflowRequest(name="cpy_three_steps", version=1, input={"x": 10}))
    assert isinstance(by_name, str) and isinstance(by_request, str) and by_name != by_request

    handler()
    first = wait_until_ended(workflows, by_name)
    second = wait_until_ended(workflows, by_request)
    assert (first.status, first.output) == ("COMPLETED", {"x": 9})
    assert (second.status, second.output) == ("COMPLETED", {"x": 23})
    assert first.correlation_id == "cpy-corr"
    assert [t.status for t in first.tasks] == ["COMPLETED"] * 3
    assert first.tasks[1].worker_id == "cpy-double"

    # Synchronous execute: conductor-python sends requestId, waitForSeconds and (as the
    # string "None" when unset) waitUntilTaskRef as query parameters.
    run = workflows.execute_workflow(
        StartWorkflowRequest(name="cpy_three_steps", version=1, input={"x": 0}),
        request_id="cpy-request-1",
        wait_for_seconds=30,
    )
    assert (run.status, run.output) == ("COMPLETED", {"x": 3})


def test_task_handler_failures(config: Configuration, handler: Callable[[], TaskHandler]) -> None:
    metadata = OrkesMetadataClient(config)
    workflows = OrkesWorkflowClient(config)
    metadata.register_task_def(TaskDef(name="cpy_fail", retry_count=0))
    metadata.register_task_def(TaskDef(name="cpy_terminal", retry_count=3, retry_delay_seconds=0))
    metadata.register_workflow_def(steps_def("cpy_fails", ["cpy_fail"]), overwrite=True)
    metadata.register_workflow_def(steps_def("cpy_terminates", ["cpy_terminal"]), overwrite=True)
    failing = workflows.start_workflow_by_name("cpy_fails", {"x": 1})
    terminal = workflows.start_workflow_by_name("cpy_terminates", {"x": 1})

    handler()
    failed = wait_until_ended(workflows, failing)
    assert failed.status == "FAILED"
    (task,) = failed.tasks
    assert (task.status, task.reason_for_incompletion) == ("FAILED", "cpy boom 1")

    ended = wait_until_ended(workflows, terminal)
    assert ended.status == "FAILED"
    (only,) = ended.tasks
    assert (only.status, only.reason_for_incompletion) == ("FAILED_WITH_TERMINAL_ERROR", "cpy fatal")


def test_workflow_and_task_clients_by_hand(config: Configuration) -> None:
    metadata = OrkesMetadataClient(config)
    workflows = OrkesWorkflowClient(config)
    tasks = OrkesTaskClient(config)
    metadata.register_workflow_def(steps_def("cpy_by_hand", ["cpy_manual", "cpy_manual"]), overwrite=True)
    workflow_id = workflows.start_workflow_by_name("cpy_by_hand", {"x": 5})

    assert tasks.get_queue_size_for_task("cpy_manual") == 1
    (task,) = tasks.batch_poll_tasks("cpy_manual", worker_id="hand", count=5, timeout_in_millisecond=2000)
    assert (task.workflow_instance_id, task.status, task.input_data) == (workflow_id, "IN_PROGRESS", {"x": 5})
    assert tasks.get_task(task.task_id).task_id == task.task_id

    result = TaskResult(task_id=task.task_id, workflow_instance_id=workflow_id, worker_id="hand")
    result.status = TaskResultStatus.COMPLETED
    result.output_data = {"x": 6}
    # POST /api/tasks: Conductor answers with the task id as text/plain.
    assert tasks.update_task(result) == task.task_id

    # POST /api/tasks/{workflowId}/{taskRefName}/{status}: the client wraps the output as {"result": ...}.
    tasks.update_task_by_ref_name(workflow_id, "s1", "COMPLETED", {"x": 7})
    run = wait_until_ended(workflows, workflow_id, timeout=20)
    assert run.status == "COMPLETED"
    assert run.tasks[1].output_data == {"result": {"x": 7}}

    status = workflows.get_workflow_status(workflow_id)
    assert (status.workflow_id, status.status) == (workflow_id, "COMPLETED")

    doomed = workflows.start_workflow_by_name("cpy_by_hand", {"x": 1})
    # DELETE /api/workflow/{id}?reason=...: conductor-python sends a "{}" JSON body with the DELETE.
    workflows.terminate_workflow(doomed, reason="cancelled by test")
    terminated = workflows.get_workflow(doomed, include_tasks=False)
    assert (terminated.status, terminated.reason_for_incompletion) == ("TERMINATED", "cancelled by test")

    with pytest.raises(ApiException) as caught:
        workflows.start_workflow_by_name("cpy_no_such_flow", {})
    assert caught.value.status == 404
