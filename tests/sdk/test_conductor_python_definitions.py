"""Definitions as conductor-python 2.0.0 builds them, against a real ``baton serve``.

Its DSL's trailing fork (``>> [[a], [b]]``, no JOIN), schemas on task definitions, a
definition Conductor refuses (a sub-workflow version that is an expression), which would
otherwise make the client's ``get_all_workflow_defs()`` answer None for the whole list, and its
dynamic fork in the "combined" form (accepted as Conductor accepts it; the run fails).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytest.importorskip("conductor.client")

from conductor.client.http.models.schema_def import SchemaDef, SchemaType
from conductor.client.http.models.sub_workflow_params import SubWorkflowParams
from conductor.client.http.models.task_def import TaskDef
from conductor.client.http.models.workflow_def import WorkflowDef
from conductor.client.http.models.workflow_task import WorkflowTask
from conductor.client.http.rest import ApiException
from conductor.client.orkes.orkes_metadata_client import OrkesMetadataClient
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.executor.workflow_executor import WorkflowExecutor
from conductor.client.workflow.task.dynamic_fork_task import DynamicForkTask
from conductor.client.workflow.task.join_task import JoinTask
from conductor.client.workflow.task.simple_task import SimpleTask

from tests.helpers import conductor_configuration, poll, start, unique, wait_for_status

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning"),
]


def _complete(client: httpx.Client, task_type: str) -> None:
    (task,) = poll(client, task_type, timeout_ms=5_000)
    done = {"taskId": task["taskId"], "workflowInstanceId": task["workflowInstanceId"], "status": "COMPLETED"}
    assert client.post("/api/tasks", json=done).status_code == 200


@pytest.mark.own_server  # lists every definition
def test_the_python_dsl_definitions_register_run_and_list(server: Any, client: httpx.Client) -> None:
    config = conductor_configuration(server.url)
    metadata = OrkesMetadataClient(config)
    first, a, b, name = unique("cpy_first"), unique("cpy_a"), unique("cpy_b"), unique("cpy_trailing_fork")

    schema = SchemaDef(name="amount", version=1, type=SchemaType.JSON, data={"type": "object", "required": ["n"]})
    metadata.register_task_def(TaskDef(name=a, output_schema=schema, enforce_schema=True, retry_count=0))
    got = metadata.get_task_def(a)
    assert got.enforce_schema is True and got.output_schema.data == {"type": "object", "required": ["n"]}

    flow = ConductorWorkflow(executor=WorkflowExecutor(config), name=name, version=1)
    flow >> SimpleTask(first, "first") >> [[SimpleTask(a, "a")], [SimpleTask(b, "b")]]
    flow.register(overwrite=True)
    stored = metadata.get_workflow_def(name)
    assert [t.type for t in stored.tasks] == ["SIMPLE", "FORK_JOIN"]
    assert stored.enforce_schema is False and stored.input_schema is None

    child = WorkflowTask(
        name="child",
        task_reference_name="child",
        type="SUB_WORKFLOW",
        sub_workflow_param=SubWorkflowParams(name=name, version="${workflow.input.v}"),
    )
    with pytest.raises(ApiException) as caught:
        metadata.register_workflow_def(WorkflowDef(name=unique("cpy_bad_version"), version=1, tasks=[child]))
    assert caught.value.status == 400 and "subWorkflowParam.version" in caught.value.body

    listed = metadata.get_all_workflow_defs()
    assert listed is not None and name in {d.name for d in listed}

    workflow_id = start(client, name)
    _complete(client, first)
    _complete(client, b)
    (task,) = poll(client, a, timeout_ms=5_000)
    done = {"taskId": task["taskId"], "workflowInstanceId": workflow_id, "status": "COMPLETED", "outputData": {}}
    assert client.post("/api/tasks", json=done).status_code == 200
    run = wait_for_status(client, workflow_id, "FAILED")
    assert run["reasonForIncompletion"] == "outputSchema: output: 'n' is a required property"


def test_the_python_dsl_combined_dynamic_fork_registers_and_its_run_fails(server: Any, client: httpx.Client) -> None:
    """``DynamicForkTask(tasks_param="dynamicForkJoinTasks")`` names an inputs parameter it never gives."""
    config = conductor_configuration(server.url)
    metadata = OrkesMetadataClient(config)
    branch, name = unique("cpy_df_branch"), unique("cpy_df_combined")
    fork = DynamicForkTask(task_ref_name="fan", tasks_param="dynamicForkJoinTasks", join_task=JoinTask("fan_join"))
    fork.input_parameters["dynamicForkJoinTasks"] = [
        {"task": {"name": branch, "taskReferenceName": f"{branch}_{i}", "type": "SIMPLE"}, "input": {"i": i}}
        for i in (1, 2)
    ]
    ConductorWorkflow(executor=WorkflowExecutor(config), name=name, version=1).add(fork).register(overwrite=True)
    stored = metadata.get_workflow_def(name, version=1)
    assert stored.tasks[0].dynamic_fork_tasks_input_param_name == "dynamicTasksInputs"
    assert "dynamicTasksInputs" not in stored.tasks[0].input_parameters

    run = wait_for_status(client, start(client, name), "FAILED")
    fan = next(task for task in run["tasks"] if task["referenceTaskName"] == "fan")
    assert fan["status"] == "FAILED_WITH_TERMINAL_ERROR"
    assert "dynamicForkJoinTasks[0]" in fan["reasonForIncompletion"], fan
    assert client.get("/api/tasks/queue/sizes", params={"taskType": branch}).json().get(branch, 0) == 0
