"""Workers written against the official conductor-python SDK, run by its TaskHandler.

Module level, so that TaskHandler's spawned processes can import them. No
``from __future__ import annotations`` here: conductor-python reads parameter
annotations as real types to convert inputs, and fails on string annotations.
"""

from conductor.client.http.models.task import Task
from conductor.client.http.models.task_result import TaskResult
from conductor.client.http.models.task_result_status import TaskResultStatus
from conductor.client.worker.exception import NonRetryableException
from conductor.client.worker.worker_task import worker_task


@worker_task(task_definition_name="cpy_add_one", poll_interval_millis=50)
def add_one(x: int) -> dict[str, int]:
    return {"x": x + 1}


@worker_task(task_definition_name="cpy_double", poll_interval_millis=50)
def double(task: Task) -> TaskResult:
    result = TaskResult(
        task_id=task.task_id,
        workflow_instance_id=task.workflow_instance_id,
        worker_id="cpy-double",
    )
    result.status = TaskResultStatus.COMPLETED
    result.output_data = {"x": task.input_data["x"] * 2}
    return result


@worker_task(task_definition_name="cpy_fail", poll_interval_millis=50)
def fail(x: int) -> dict[str, int]:
    raise ValueError(f"cpy boom {x}")


@worker_task(task_definition_name="cpy_terminal", poll_interval_millis=50)
def terminal(x: int) -> dict[str, int]:
    raise NonRetryableException("cpy fatal")
