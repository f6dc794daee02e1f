"""Tasks the server runs from its queue (HTTP, EVENT, SUB_WORKFLOW, START_WORKFLOW); the signals of a run's end."""

from __future__ import annotations

from typing import Any

from baton.engine import ChildRetried, EventPublished, FailureWorkflowNotStarted, Retry, SignalKind
from baton.model import SubWorkflowParams, TaskResult, TaskResultStatus, TaskStatus, WorkflowStatus, WorkflowTask
from tests.engine.decider_support import Harness, simple, system, task_def, workflow


def _sub(ref: str, **kw: Any) -> WorkflowTask:
    return system("SUB_WORKFLOW", ref, sub_workflow_param=SubWorkflowParams(name="child"), **kw)


def test_server_run_types_are_queued_with_the_server_lease_and_not_run_inline() -> None:
    for kind in ("HTTP", "EVENT", "SUB_WORKFLOW", "START_WORKFLOW"):
        h = Harness(workflow(system(kind, "s")))
        task = h.task("s")
        assert task.status is TaskStatus.SCHEDULED
        assert task.is_queued_task and not task.is_worker_task
        assert task.task_type == kind
        assert task.response_timeout_seconds == 30
        assert task.visible_at == h.now


def test_a_lost_lease_of_a_server_run_task_requeues_the_same_attempt() -> None:
    h = Harness(workflow(system("HTTP", "call")))
    claimed = h.claim("call")
    h.advance(31_000)
    h.fire(claimed)
    again = h.task("call")
    assert again.task_id == claimed.task_id
    assert again.status is TaskStatus.SCHEDULED and again.retry_count == 0
    assert again.lease_expires_at == 0 and again.visible_at == h.now
    assert h.status is WorkflowStatus.RUNNING


def test_in_progress_report_keeps_a_sub_workflow_in_progress_without_a_lease() -> None:
    h = Harness(workflow(_sub("s")))
    h.claim("s")
    h.report("s", TaskResultStatus.IN_PROGRESS, {"subWorkflowId": "child-1"}, sub_workflow_id="child-1")
    task = h.task("s")
    assert task.status is TaskStatus.IN_PROGRESS
    assert task.lease_expires_at == 0
    assert task.sub_workflow_id == "child-1"
    assert task.output_data == {"subWorkflowId": "child-1"}


def test_a_failed_sub_workflow_is_retried_per_its_task_definition_with_a_new_attempt() -> None:
    h = Harness(workflow(_sub("s", task_definition=task_def("s", retry_count=1, retry_delay_seconds=0))))
    h.claim("s")
    h.report("s", TaskResultStatus.FAILED, sub_workflow_id="child-1", reason_for_incompletion="child failed")
    retry = h.task("s")
    assert retry.retry_count == 1 and retry.status is TaskStatus.SCHEDULED
    assert retry.sub_workflow_id is None


def test_ending_a_run_terminates_its_running_children() -> None:
    h = Harness(workflow(_sub("s")))
    h.claim("s")
    h.report("s", TaskResultStatus.IN_PROGRESS, sub_workflow_id="child-1")
    decision = h.terminate("enough")
    assert [(s.kind, s.target_workflow_id, s.reason) for s in decision.signals] == [
        (SignalKind.TERMINATE_CHILD, "child-1", "enough")
    ]


def test_a_child_that_ends_signals_its_parent_task() -> None:
    h = Harness(workflow(simple("a")), parent_workflow_id="parent-1", parent_workflow_task_id="ptask-1")
    decision = h.complete("a", {"x": 1})
    assert h.status is WorkflowStatus.COMPLETED
    [signal] = decision.signals
    assert signal.kind is SignalKind.CHILD_ENDED
    assert (signal.target_workflow_id, signal.task_id, signal.source_workflow_id) == ("parent-1", "ptask-1", "wf-1")


def test_a_failed_run_records_and_signals_its_failure_workflow() -> None:
    h = Harness(workflow(simple("a", task_definition=task_def("a", retry_count=0)), failure_workflow="cleanup"))
    decision = h.fail("a", "broken")
    assert h.status is WorkflowStatus.FAILED
    [signal] = decision.signals
    assert signal.kind is SignalKind.START_FAILURE_WORKFLOW
    assert signal.name == "cleanup" and signal.reason == "broken"
    assert signal.task_id == h.task("a").task_id
    assert h.run.output["conductor.failure_workflow"] == signal.target_workflow_id


def test_a_completed_or_terminated_run_starts_no_failure_workflow() -> None:
    done = Harness(workflow(simple("a"), failure_workflow="cleanup"))
    assert done.complete("a").signals == []
    stopped = Harness(workflow(simple("a"), failure_workflow="cleanup"))
    assert stopped.terminate().signals == []
    assert "conductor.failure_workflow" not in stopped.run.output


def _failed_sub(**kw: Any) -> Harness:
    """A run whose SUB_WORKFLOW step failed for good with child ``child-1``."""
    h = Harness(workflow(_sub("s")), check_determinism=True, **kw)
    h.claim("s")
    h.report("s", TaskResultStatus.IN_PROGRESS, {"subWorkflowId": "child-1"}, sub_workflow_id="child-1")
    h.report("s", TaskResultStatus.FAILED, {"subWorkflowId": "child-1"}, reason_for_incompletion="child failed")
    assert h.status is WorkflowStatus.FAILED
    return h


def test_retry_resuming_a_sub_workflow_waits_for_the_same_child_and_asks_for_its_retry() -> None:
    h = _failed_sub(parent_workflow_id="top", parent_workflow_task_id="top-task")
    failed = h.task("s")
    decision = h.apply(Retry(resume_task_ids=frozenset({failed.task_id})))
    assert h.status is WorkflowStatus.RUNNING
    [task] = h.run.tasks
    assert (task.task_id, task.status, task.sub_workflow_id) == (failed.task_id, TaskStatus.IN_PROGRESS, "child-1")
    assert task.reason_for_incompletion is None and task.end_time == 0
    assert [(s.kind, s.target_workflow_id, s.task_id) for s in decision.signals] == [
        (SignalKind.RETRY_CHILD, "child-1", failed.task_id),
        (SignalKind.CHILD_RETRIED, "top", "top-task"),
    ]
    assert [log.log for log in decision.logs] == ["Sub workflow child-1 retried."]


def test_a_plain_retry_gives_the_sub_workflow_a_new_attempt_and_no_child_retry() -> None:
    h = _failed_sub()
    decision = h.apply(Retry())
    assert [t.status for t in h.attempts("s")] == [TaskStatus.FAILED, TaskStatus.SCHEDULED]
    assert decision.signals == []


def test_child_retried_reopens_the_parent_only_for_the_task_waiting_on_that_child() -> None:
    h = _failed_sub()
    task = h.task("s")
    before = h.run
    for event in (
        ChildRetried(task_id=task.task_id, sub_workflow_id="another-child"),
        ChildRetried(task_id="no-such-task", sub_workflow_id="child-1"),
    ):
        assert h.apply(event).refusal is not None
        assert h.run == before
    decision = h.apply(ChildRetried(task_id=task.task_id, sub_workflow_id="child-1", operation="restarted"))
    assert h.status is WorkflowStatus.RUNNING and h.run.reason_for_incompletion is None
    assert h.task("s").status is TaskStatus.IN_PROGRESS
    assert [log.log for log in decision.logs] == ["Sub workflow child-1 restarted."]
    refusal = h.apply(ChildRetried(task_id=task.task_id, sub_workflow_id="child-1")).refusal
    assert refusal is not None and "IN_PROGRESS" in refusal.message


def test_a_failure_workflow_not_started_replaces_the_recorded_id_and_nothing_else() -> None:
    h = Harness(workflow(simple("a", task_definition=task_def("a", retry_count=0)), failure_workflow="cleanup"))
    h.fail("a", "broken")
    recorded = h.run.output["conductor.failure_workflow"]
    before = h.run
    assert h.apply(FailureWorkflowNotStarted(failure_workflow_id="other", name="cleanup", reason="x")).refusal
    h.apply(FailureWorkflowNotStarted(failure_workflow_id=recorded, name="cleanup", reason="No such workflow"))
    assert h.run.output["conductor.failure_workflow"] == (
        "Error workflow cleanup failed to start.  reason: No such workflow"
    )
    assert h.run.status is WorkflowStatus.FAILED and h.run.tasks == before.tasks
    assert h.run.reason_for_incompletion == before.reason_for_incompletion


def test_an_event_published_ends_its_task_and_writes_the_event_with_the_decision() -> None:
    h = Harness(workflow(system("EVENT", "publish"), simple("after")))
    claimed = h.claim("publish")
    result = TaskResult(
        task_id=claimed.task_id, status=TaskResultStatus.COMPLETED, output_data={"n": 1, "event_produced": "e"}
    )
    decision = h.apply(EventPublished(result=result, event="conductor:w:publish", payload={"n": 1}))
    assert h.task("publish").status is TaskStatus.COMPLETED
    assert h.task("publish").output_data == {"n": 1, "event_produced": "e"}
    assert h.task("after").status is TaskStatus.SCHEDULED
    [signal] = decision.signals
    assert (signal.kind, signal.name, signal.payload, signal.task_id) == (
        SignalKind.EVENT_PUBLISHED,
        "conductor:w:publish",
        {"n": 1},
        claimed.task_id,
    )
    assert signal.source_workflow_id == signal.target_workflow_id == h.run.workflow_id

    # Published once: the ended task ignores a second publication, which then writes no event.
    again = h.apply(EventPublished(result=result, event="conductor:w:publish", payload={"n": 1}))
    assert again.refusal is not None and again.refusal.kind == "ignored"
    assert again.signals == []
