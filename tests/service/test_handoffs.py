"""A start or a decision hands its new task straight to a long poll waiting in this process
(``service/handoffs.py``), on both stores, in process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from baton.engine import Decision, TaskResultReceived
from baton.errors import ConflictError
from baton.model import (
    StartWorkflowRequest,
    Task,
    TaskDef,
    TaskResult,
    TaskResultStatus,
    TaskStatus,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
    WorkflowTask,
)
from baton.service import Baton
from baton.service.handoffs import Handoffs
from tests.conftest import service_on

pytestmark = pytest.mark.timeout(60)

TYPE = "handed_step"


async def one_step(baton: Baton, name: str = "hand_off") -> None:
    await baton.definitions.register_workflow(
        WorkflowDef(name=name, version=1, tasks=[WorkflowTask(name=TYPE, task_reference_name="step", type="SIMPLE")]),
        overwrite=True,
    )


async def offered(baton: Baton, task_type: str = TYPE) -> None:
    """Until a long poll of ``task_type`` waits with an open offer."""
    while True:
        if baton.context.handoffs.waiting(task_type):
            return
        await asyncio.sleep(0.001)


def long_poll(baton: Baton, *, worker_id: str = "w-1", gone: bool = False) -> asyncio.Task[list[Task]]:
    async def left() -> bool:
        return gone

    return asyncio.create_task(baton.tasks.poll(TYPE, worker_id=worker_id, timeout_ms=20_000, gone=left))


async def test_a_start_hands_its_task_to_a_waiting_long_poll(baton: Baton) -> None:
    await one_step(baton)
    poll = long_poll(baton)
    await offered(baton)

    started, first = await baton.runs.start_with_run(StartWorkflowRequest(name="hand_off", input={"n": 1}))

    # The start wrote the task claimed by the poller: nothing queued, nobody else can take it.
    [written] = first.tasks
    assert (written.status, written.worker_id, written.poll_count) == (TaskStatus.IN_PROGRESS, "w-1", 1)
    assert await baton.tasks.queue_sizes([TYPE]) == {TYPE: 0}
    [handed] = await poll
    assert (handed.task_id, handed.status, handed.worker_id) == (written.task_id, TaskStatus.IN_PROGRESS, "w-1")
    stored = await baton.tasks.get(handed.task_id)
    assert (stored.status, stored.worker_id, stored.start_time) == (TaskStatus.IN_PROGRESS, "w-1", handed.start_time)
    assert stored.lease_expires_at > 0  # its lease runs as a claim's does
    assert baton.context.handoffs.waiting(TYPE) == 0

    await baton.tasks.update(
        TaskResult(
            task_id=handed.task_id,
            workflow_instance_id=started.workflow_id,
            status=TaskResultStatus.COMPLETED,
            output_data={"ok": True},
        )
    )
    run = await baton.runs.get(started.workflow_id)
    assert run.status is WorkflowStatus.COMPLETED


async def test_a_poller_that_left_gives_its_handed_task_back_to_the_queue(baton: Baton) -> None:
    await one_step(baton)
    poll = long_poll(baton, gone=True)
    await offered(baton)

    started = await baton.runs.start(StartWorkflowRequest(name="hand_off"))

    assert await poll == []
    # Back in the queue at once, not after its lease: the next poll claims it.
    assert await baton.tasks.queue_sizes([TYPE]) == {TYPE: 1}
    [task] = await baton.tasks.poll(TYPE, worker_id="w-2")
    assert (task.workflow_instance_id, task.status, task.worker_id) == (
        started.workflow_id,
        TaskStatus.IN_PROGRESS,
        "w-2",
    )


async def test_a_start_that_fails_leaves_the_poller_waiting_for_the_next(baton: Baton) -> None:
    await one_step(baton)
    taken = await baton.runs.start(StartWorkflowRequest(name="hand_off"))
    [queued] = await baton.tasks.poll(TYPE, worker_id="w-0")
    poll = long_poll(baton)
    await offered(baton)

    with pytest.raises(ConflictError):
        await baton.runs.start(StartWorkflowRequest(name="hand_off"), workflow_id=taken.workflow_id)
    await offered(baton)  # released: the poll waits on, with an offer open again
    assert not poll.done()

    started, first = await baton.runs.start_with_run(StartWorkflowRequest(name="hand_off"))
    [handed] = await poll
    assert handed.workflow_instance_id == started.workflow_id != queued.workflow_instance_id
    assert first.tasks[0].status is TaskStatus.IN_PROGRESS


async def test_a_type_with_limits_is_queued_as_before(baton: Baton) -> None:
    await baton.definitions.register_task_defs([TaskDef(name=TYPE, concurrent_exec_limit=5)])
    await one_step(baton)
    poll = long_poll(baton)
    await asyncio.sleep(0.05)  # (whether or not the poll waits by now, it opens no offer)
    assert baton.context.handoffs.waiting(TYPE) == 0
    _, first = await baton.runs.start_with_run(StartWorkflowRequest(name="hand_off"))
    assert first.tasks[0].status is TaskStatus.SCHEDULED
    [claimed] = await poll
    assert claimed.status is TaskStatus.IN_PROGRESS


async def test_a_batch_poll_is_not_offered_a_task_and_claims_its_batch_from_the_queue(baton: Baton) -> None:
    await one_step(baton)
    poll = asyncio.create_task(baton.tasks.poll(TYPE, worker_id="w-1", count=5, timeout_ms=20_000))
    await asyncio.sleep(0.05)  # (whether or not the poll waits by now, it opens no offer)
    assert baton.context.handoffs.waiting(TYPE) == 0
    _, first = await baton.runs.start_with_run(StartWorkflowRequest(name="hand_off"))
    assert first.tasks[0].status is TaskStatus.SCHEDULED
    [claimed] = await poll
    assert claimed.task_id == first.tasks[0].task_id


async def test_a_start_with_an_idempotency_key_is_queued_as_before(baton: Baton) -> None:
    await one_step(baton)
    poll = long_poll(baton)
    await offered(baton)
    _, first = await baton.runs.start_with_run(StartWorkflowRequest(name="hand_off", idempotency_key="k-1"))
    assert first.tasks[0].status is TaskStatus.SCHEDULED
    [claimed] = await poll
    assert claimed.task_id == first.tasks[0].task_id


@pytest.fixture
async def other_server(store_url: str) -> AsyncIterator[Baton]:
    """A second service on the same database, as another server would be."""
    async with service_on(store_url) as service:
        yield service


async def test_no_hand_off_to_a_poll_of_another_server(baton: Baton, other_server: Baton) -> None:
    await one_step(baton)
    poll = long_poll(baton)
    await offered(baton)

    started, first = await other_server.runs.start_with_run(StartWorkflowRequest(name="hand_off"))

    # Queued as before: the poll on the first server claims it from the queue.
    assert first.tasks[0].status is TaskStatus.SCHEDULED
    [claimed] = await poll
    assert (claimed.workflow_instance_id, claimed.status) == (started.workflow_id, TaskStatus.IN_PROGRESS)


class _Waiter:
    def __init__(self) -> None:
        self.woken = False

    async def wait(self, timeout: float) -> bool:
        return False

    def decline(self) -> None:
        pass

    def wake(self) -> None:
        self.woken = True


def scheduled_task(task_id: str, task_type: str = TYPE) -> Task:
    return Task(
        task_id=task_id,
        task_type=task_type,
        reference_task_name=task_id,
        workflow_instance_id="run-1",
        workflow_type="hand_off",
        status=TaskStatus.SCHEDULED,
    )


def decision_of(*tasks: Task) -> Decision:
    return Decision(
        workflow=Workflow(workflow_id="run-1", workflow_name="hand_off", workflow_version=1, tasks=list(tasks)),
        created=list(tasks),
    )


async def test_a_poll_gone_while_its_start_is_in_flight_has_its_task_requeued() -> None:
    handoffs = Handoffs()
    waiter = _Waiter()
    with handoffs.offer(TYPE, "w-1", waiter):
        decision, hand = handoffs.take(decision_of(scheduled_task("t-1"), scheduled_task("t-2")), now=1000)
    # The poll left (cancelled) while the start was in flight: the start gives its task back.
    assert [task.status for task in decision.created] == [TaskStatus.IN_PROGRESS, TaskStatus.SCHEDULED]
    assert [task.status for task in decision.workflow.tasks] == [TaskStatus.IN_PROGRESS, TaskStatus.SCHEDULED]
    assert [task.task_id for task in hand.delivered()] == ["t-1"]
    assert not waiter.woken


async def test_offers_are_taken_oldest_first_one_task_each() -> None:
    handoffs = Handoffs()
    first, second = _Waiter(), _Waiter()
    with handoffs.offer(TYPE, "w-1", first) as one, handoffs.offer(TYPE, "w-2", second) as two:
        assert handoffs.waiting(TYPE) == 2
        other = scheduled_task("t-0", task_type="other")
        decision, hand = handoffs.take(decision_of(other, scheduled_task("t-1")), now=1000)
        assert [task.worker_id for task in decision.created] == [None, "w-1"]
        assert handoffs.waiting(TYPE) == 1
        assert hand.delivered() == []
        assert (await one.outcome())[0].task_id == "t-1" and first.woken
        assert await two.outcome() == [] and not second.woken
    assert handoffs.waiting(TYPE) == 0


class GatedClaims:
    """The store's claims held until ``gate`` is set (``entered`` set once one waits): a claim that crosses a start."""

    def __init__(self, baton: Baton) -> None:
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()
        store = baton.context.store
        claim = store.claim_tasks

        async def gated(*args: Any, **kwargs: Any) -> list[Task]:
            self.entered.set()
            await self.gate.wait()
            return await claim(*args, **kwargs)

        store.claim_tasks = gated  # type: ignore[method-assign]


async def test_a_poll_whose_claim_crosses_a_start_is_handed_its_task(baton: Baton) -> None:
    await one_step(baton)
    baton.context.handoffs.claimed(TYPE, short=True)  # the type's last claim here found its queue empty
    claims = GatedClaims(baton)
    poll = long_poll(baton)
    await claims.entered.wait()
    assert baton.context.handoffs.waiting(TYPE) == 1  # an offer open while it claims

    _, first = await baton.runs.start_with_run(StartWorkflowRequest(name="hand_off"))
    claims.gate.set()

    [handed] = await poll
    assert (handed.task_id, handed.status) == (first.tasks[0].task_id, TaskStatus.IN_PROGRESS)
    assert await baton.tasks.queue_sizes([TYPE]) == {TYPE: 0}


async def test_a_task_handed_to_a_claim_that_found_enough_goes_back_to_the_queue(baton: Baton) -> None:
    await one_step(baton)
    queued = await baton.runs.start(StartWorkflowRequest(name="hand_off", idempotency_key="queued"))
    baton.context.handoffs.claimed(TYPE, short=True)
    claims = GatedClaims(baton)
    poll = long_poll(baton)
    await claims.entered.wait()

    _, first = await baton.runs.start_with_run(StartWorkflowRequest(name="hand_off"))
    assert first.tasks[0].status is TaskStatus.IN_PROGRESS
    claims.gate.set()

    # The claim found the queued task: the poll asked for one, so the handed task is queued again at once.
    [claimed] = await poll
    assert claimed.workflow_instance_id == queued.workflow_id
    assert await baton.tasks.queue_sizes([TYPE]) == {TYPE: 1}
    assert (await baton.tasks.get(first.tasks[0].task_id)).status is TaskStatus.SCHEDULED
    assert not baton.context.handoffs.drained(TYPE)


FIRST = "handed_first"


async def two_steps(baton: Baton, name: str = "hand_on") -> None:
    """A worker step of ``FIRST`` and then one of ``TYPE``: the first one's result makes the second."""
    steps = [
        WorkflowTask(name=FIRST, task_reference_name="first", type="SIMPLE"),
        WorkflowTask(name=TYPE, task_reference_name="second", type="SIMPLE"),
    ]
    await baton.definitions.register_workflow(WorkflowDef(name=name, version=1, tasks=steps), overwrite=True)


async def first_step_taken(baton: Baton) -> tuple[str, Task]:
    """A started run of ``two_steps`` and its first task, claimed."""
    started = await baton.runs.start(StartWorkflowRequest(name="hand_on"))
    [first] = await baton.tasks.poll(FIRST, worker_id="w-0")
    return started.workflow_id, first


def completed(workflow_id: str, task: Task) -> TaskResult:
    return TaskResult(
        task_id=task.task_id, workflow_instance_id=workflow_id, status=TaskResultStatus.COMPLETED, output_data={}
    )


async def decided(baton: Baton, workflow_id: str, first: Task) -> Task:
    """The first task completed, as a worker's result is applied; the second step as the decision wrote it."""
    decision = await baton.context.apply_event(workflow_id, TaskResultReceived(result=completed(workflow_id, first)))
    [second] = decision.created
    return second


async def test_a_result_hands_the_next_step_to_a_waiting_long_poll(baton: Baton) -> None:
    await two_steps(baton)
    workflow_id, first = await first_step_taken(baton)
    poll = long_poll(baton)
    await offered(baton)

    written = await decided(baton, workflow_id, first)

    # The decision on the result wrote the second step claimed by the poller: nothing queued.
    assert (written.status, written.worker_id) == (TaskStatus.IN_PROGRESS, "w-1")
    [handed] = await poll
    assert handed.task_id == written.task_id
    assert (handed.reference_task_name, handed.status, handed.worker_id) == ("second", TaskStatus.IN_PROGRESS, "w-1")
    assert await baton.tasks.queue_sizes([TYPE]) == {TYPE: 0}
    stored = await baton.tasks.get(handed.task_id)
    assert (stored.status, stored.worker_id, stored.poll_count) == (TaskStatus.IN_PROGRESS, "w-1", 1)
    assert stored.lease_expires_at > 0
    await baton.tasks.update(completed(workflow_id, handed))
    assert (await baton.runs.get(workflow_id)).status is WorkflowStatus.COMPLETED


async def test_a_poller_gone_before_a_results_task_reaches_it_gives_it_back_to_the_queue(baton: Baton) -> None:
    await two_steps(baton)
    workflow_id, first = await first_step_taken(baton)
    poll = long_poll(baton, gone=True)
    await offered(baton)

    written = await decided(baton, workflow_id, first)

    assert written.status is TaskStatus.IN_PROGRESS
    assert await poll == []
    assert await baton.tasks.queue_sizes([TYPE]) == {TYPE: 1}
    [task] = await baton.tasks.poll(TYPE, worker_id="w-2")
    assert (task.workflow_instance_id, task.reference_task_name, task.worker_id) == (workflow_id, "second", "w-2")


async def test_a_decision_made_again_on_a_newer_run_hands_its_task_once(baton: Baton, other_server: Baton) -> None:
    await two_steps(baton)
    workflow_id, first = await first_step_taken(baton)
    # Another server changes the run: this server's copy of it is stale, so its decision on the result is refused
    # by the store and made again on the run as it now is.
    await other_server.operations.pause(workflow_id)
    await other_server.operations.resume(workflow_id)
    poll = long_poll(baton)
    await offered(baton)

    written = await decided(baton, workflow_id, first)

    # Made first on this server's stale copy, the decision took the poll's offer; refused, it gave the offer back,
    # and the poll took the task from the queue or from the second decision: once, in any case.
    [handed] = await poll
    assert (handed.task_id, handed.status, handed.worker_id) == (written.task_id, TaskStatus.IN_PROGRESS, "w-1")
    assert await baton.tasks.queue_sizes([TYPE]) == {TYPE: 0}
    run = await baton.runs.get(workflow_id)
    assert [(task.reference_task_name, task.status) for task in run.tasks] == [
        ("first", TaskStatus.COMPLETED),
        ("second", TaskStatus.IN_PROGRESS),
    ]
    assert baton.context.handoffs.waiting(TYPE) == 0
