"""``POST /api/workflow/test``: a real run whose worker steps are answered from the request's mocks.

The run is started and stored like any other (``GET /api/workflow/{id}`` shows it) and
the engine runs it as usual; only the answers of the steps that wait for someone
outside come from the request instead of a worker. As Conductor does, with one
difference where Baton has no task domains:

* A step that waits for a worker, a person, a request or a time (a worker task, HUMAN, HTTP_ENDPOINT, WAIT) takes
  the next mock listed under its reference name, one per attempt in order (a FAILED
  mock followed by a COMPLETED one: a retried step that succeeds on its second attempt;
  an IN_PROGRESS one answers and leaves it waiting for the next). Loop bodies and
  dynamic forks are named as the run names them (``step__2``).
* Such a step with no mock left is left as it is (a worker task SCHEDULED): the test
  answers the run as it is then, waiting for that step.
* Every other system task runs as usual: the inline ones in the decision, HTTP, EVENT
  and START_WORKFLOW on the server's executors, whose end the test waits for.
* A SUB_WORKFLOW's child is answered from ``subWorkflowTestRequest`` under the step's
  reference name (a child without one gets no mocks); the test waits for the child's
  end to reach its parent.
* Conductor puts a test run's tasks in a domain of their own so no worker polls them;
  Baton has no domains, so a worker polling the same task type at that moment may claim
  a step before its mock is applied. The mock is applied anyway, and that worker's
  result is refused as late.

The test answers once nothing more can happen without outside help, when the run
ends, or after ``wait_seconds`` at most (Baton's own bound: a step on an executor that
never ends would hold the request forever), with the run as it is then.
"""

from __future__ import annotations

import asyncio
from collections import deque

from baton.engine import TaskResultReceived
from baton.errors import ConflictError, FieldError, ValidationError
from baton.model import (
    SERVER_QUEUED_TASK_TYPES,
    Task,
    TaskMock,
    TaskResult,
    TaskType,
    Workflow,
    WorkflowTestRequest,
)
from baton.service.context import ServiceContext
from baton.service.runs import RunService
from baton.service.wakeups import run_key

_ANSWERED_BY_MOCKS = frozenset({TaskType.HUMAN.value, TaskType.WAIT.value, TaskType.HTTP_ENDPOINT.value})
"""System tasks that wait for someone outside, answered from mocks as worker tasks are."""
_NO_MOCKS = WorkflowTestRequest()
"""What a child started by a SUB_WORKFLOW step without a ``subWorkflowTestRequest`` runs under."""


class MockedRuns:
    def __init__(self, ctx: ServiceContext, runs: RunService) -> None:
        self._ctx = ctx
        self._runs = runs

    async def test(self, request: WorkflowTestRequest, *, wait_seconds: float) -> Workflow:
        """Start the run, answer its steps from the mocks until it settles; returns the run with its tasks."""
        if wait_seconds < 0:
            raise ValidationError(errors=[FieldError("waitForSeconds", "must not be negative")])
        started = await self._runs.start(request)
        test = _Test(self._ctx, self._runs, asyncio.get_running_loop().time() + wait_seconds)
        await test.drive(started.workflow_id, request)
        return await self._runs.get(started.workflow_id)


class _Test:
    """One test's state: the mocks left per request (a retried child goes on with its request's), the children
    driven and whether each ended."""

    def __init__(self, ctx: ServiceContext, runs: RunService, deadline: float) -> None:
        self._ctx = ctx
        self._runs = runs
        self._deadline = deadline
        self._mocks: dict[int, dict[str, deque[TaskMock]]] = {}
        self._children: dict[str, bool] = {}

    def _mocks_of(self, request: WorkflowTestRequest) -> dict[str, deque[TaskMock]]:
        key = id(request)
        if key not in self._mocks:
            self._mocks[key] = {ref: deque(mocks) for ref, mocks in request.task_ref_to_mock_output.items()}
        return self._mocks[key]

    async def drive(self, workflow_id: str, request: WorkflowTestRequest) -> bool:
        """Answer the run's steps until it ends (True) or nothing more can happen without help, or time is up."""
        loop = asyncio.get_running_loop()
        mocks = self._mocks_of(request)
        with self._ctx.notifier.listen(run_key(workflow_id)) as waiter:
            while True:
                run = await self._runs.get(workflow_id)
                if run.status.is_terminal:
                    return True
                acted, waiting = False, False
                for task in run.tasks:
                    if task.status.is_terminal:
                        continue
                    if task.task_type == TaskType.SUB_WORKFLOW.value:
                        step_acted, step_waiting = await self._child(task, request)
                        acted, waiting = acted or step_acted, waiting or step_waiting
                    elif task.is_worker_task or task.task_type in _ANSWERED_BY_MOCKS:
                        left = mocks.get(task.reference_task_name)
                        if left:
                            await self._answer(task, left.popleft())
                            acted = True
                    elif task.task_type in SERVER_QUEUED_TASK_TYPES:
                        waiting = True
                remaining = self._deadline - loop.time()
                if remaining <= 0 or not (acted or waiting):
                    return False
                if not acted:
                    # Re-read at least once a second: an executor in another process wakes nobody here.
                    await waiter.wait(min(remaining, 1.0))

    async def _child(self, task: Task, request: WorkflowTestRequest) -> tuple[bool, bool]:
        """A SUB_WORKFLOW step: drive its child once it has one; (acted, waiting on something running)."""
        child_id = task.sub_workflow_id
        if child_id is None:
            return False, True  # its executor is starting the child
        if child_id in self._children:
            return False, self._children[child_id]  # an ended child's result is on its way to the parent
        sub_request = request.sub_workflow_test_request.get(task.reference_task_name, _NO_MOCKS)
        self._children[child_id] = False
        self._children[child_id] = await self.drive(child_id, sub_request)
        return True, False

    async def _answer(self, task: Task, mock: TaskMock) -> None:
        result = TaskResult(
            task_id=task.task_id,
            workflow_instance_id=task.workflow_instance_id,
            status=mock.status,
            output_data=mock.output or {},
        )
        try:
            await self._ctx.apply_event(task.workflow_instance_id, TaskResultReceived(result=result))
        except ConflictError:
            return  # the task ended meanwhile (a worker answered it): the next read shows it
