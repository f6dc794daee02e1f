"""Events reach the steps waiting for them (``WaitService.deliver_event``), on a real store, in process."""

from __future__ import annotations

import pytest

from baton.model import StartWorkflowRequest, TaskStatus, WorkflowDef, WorkflowStatus, WorkflowTask
from baton.service import Baton

pytestmark = pytest.mark.timeout(60)


def waits_for_payment() -> WorkflowDef:
    return WorkflowDef(
        name="pay_then_review",
        version=1,
        tasks=[
            WorkflowTask(
                name="paid", task_reference_name="await_payment", type="WAIT", input_parameters={"event": "paid"}
            ),
            WorkflowTask(name="review", task_reference_name="review", type="HUMAN"),
        ],
    )


async def test_an_event_completes_the_steps_waiting_for_its_name(baton: Baton) -> None:
    await baton.definitions.register_workflow(waits_for_payment(), overwrite=True)
    first = await baton.runs.start(StartWorkflowRequest(name="pay_then_review", correlation_id="c-1"))
    second = await baton.runs.start(StartWorkflowRequest(name="pay_then_review", correlation_id="c-2"))

    waited = await baton.waits.waited_events(first.workflow_id)
    assert [(w.reference_task_name, w.input_data.get("event")) for w in waited] == [("await_payment", "paid")]

    # An event nobody waits for changes nothing; one filtered by correlation id reaches that run only.
    assert await baton.waits.deliver_event("refunded", {}) == []
    delivered = await baton.waits.deliver_event("paid", {"amount": 5}, correlation_id="c-1")
    assert [d.workflow_id for d in delivered] == [first.workflow_id]
    run = await baton.runs.get(first.workflow_id)
    assert [(t.reference_task_name, t.status) for t in run.tasks] == [
        ("await_payment", TaskStatus.COMPLETED),
        ("review", TaskStatus.IN_PROGRESS),
    ]
    assert run.tasks[0].output_data == {"amount": 5}
    assert (await baton.runs.get(second.workflow_id)).tasks[0].status is TaskStatus.IN_PROGRESS

    # A HUMAN step with no event input waits for its reference name; the run goes on and ends.
    reviewed = await baton.waits.deliver_event("review", {"ok": True}, workflow_id=first.workflow_id)
    assert [d.task_id for d in reviewed] == [run.tasks[1].task_id]
    assert (await baton.runs.get(first.workflow_id)).status is WorkflowStatus.COMPLETED
    # Delivered again, it finds nothing waiting.
    assert await baton.waits.deliver_event("review", {}, workflow_id=first.workflow_id) == []
