"""The decider's handling of a task's results through ``apply``: retries, leases, refusals."""

from __future__ import annotations

import pytest

from baton.engine import TaskResultReceived, TimerFired
from baton.engine.decision import IGNORED
from baton.model import RetryLogic, TaskResult, TaskResultStatus, TaskStatus, WorkflowStatus
from tests.engine.decider_support import T0, Harness, assert_rearmed, simple, system, task_def, workflow

COMPLETED = TaskStatus.COMPLETED

# -- results, retries, leases --------------------------------------------------


@pytest.mark.parametrize(
    ("logic", "scale", "delays"),
    [
        (RetryLogic.FIXED, 1, [10, 10, 10]),
        (RetryLogic.LINEAR_BACKOFF, 2, [20, 40, 60]),
        (RetryLogic.EXPONENTIAL_BACKOFF, 1, [10, 20, 40]),
    ],
)
def test_retries_with_delays_per_retry_logic(logic: RetryLogic, scale: int, delays: list[int]) -> None:
    definition = task_def(retry_count=3, retry_delay_seconds=10, retry_logic=logic, backoff_scale_factor=scale)
    h = Harness(workflow(simple("a", task_definition=definition), simple("b")))
    for attempt, delay in enumerate(delays):
        d = h.fail("a", f"failure {attempt}")
        old = h.attempts("a")[attempt]
        new = h.task("a")
        assert old.status is TaskStatus.FAILED and old.retried
        assert new.retry_count == attempt + 1
        assert new.retried_task_id == old.task_id
        assert new.status is TaskStatus.SCHEDULED
        assert new.visible_at == h.now + delay * 1000
        assert new.callback_after_seconds == delay
        assert new.input_data == old.input_data
        assert [t.task_id for t in d.created] == [new.task_id]
        assert [t.task_id for t in d.updated] == [old.task_id]
        h.advance(delay * 1000)
    h.fail("a", "last straw")
    assert h.status is WorkflowStatus.FAILED
    assert h.run.reason_for_incompletion == "last straw"
    assert h.run.failed_reference_task_names == ["a"]
    assert h.run.failed_task_names == ["a_task"]
    assert len(h.attempts("a")) == 4


def test_a_retry_then_success_continues() -> None:
    h = Harness(workflow(simple("a", task_definition=task_def(retry_count=1, retry_delay_seconds=0)), simple("b")))
    h.fail("a")
    assert h.task("a").visible_at == h.now
    h.complete("a", {"v": 1})
    assert h.refs() == ["a", "a", "b"]


def test_terminal_error_is_not_retried() -> None:
    h = Harness(workflow(simple("a", task_definition=task_def(retry_count=5))))
    h.fail("a", "bad input", terminal=True)
    assert h.task("a").status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert len(h.attempts("a")) == 1
    assert h.status is WorkflowStatus.FAILED
    assert h.run.reason_for_incompletion == "bad input"


def test_optional_step_failing_for_good_continues_the_run() -> None:
    h = Harness(
        workflow(
            simple("a", optional=True, task_definition=task_def(retry_count=1, retry_delay_seconds=0)),
            simple("b"),
        )
    )
    h.fail("a")
    assert h.status is WorkflowStatus.RUNNING and len(h.attempts("a")) == 2  # optional steps retry first
    h.fail("a", "still broken")
    assert h.task("a").status is TaskStatus.COMPLETED_WITH_ERRORS
    assert h.task("a").reason_for_incompletion == "still broken"
    assert h.refs()[-1] == "b"
    h.complete("b", {"fine": 1})
    assert h.status is WorkflowStatus.COMPLETED


def test_lease_expiry_times_out_and_retries() -> None:
    definition = task_def(retry_count=1, retry_delay_seconds=5, response_timeout_seconds=30)
    h = Harness(workflow(simple("a", task_definition=definition)))
    assert h.task("a").response_timeout_seconds == 30
    first = h.claim("a")
    assert first.lease_expires_at == T0 + 30_000
    h.advance(29_999)
    assert_rearmed(h.fire(first), first)
    h.advance(1)
    d = h.fire(first)
    assert d.refusal is None
    timed_out = h.attempts("a")[0]
    assert timed_out.status is TaskStatus.TIMED_OUT
    assert timed_out.reason_for_incompletion == "responseTimeoutSeconds (30 s) elapsed without an update"
    retry = h.task("a")
    assert retry.retry_count == 1 and retry.visible_at == h.now + 5_000

    # the late result of the first lease is ignored (as Conductor does), never applied
    late = h.report(first, TaskResultStatus.COMPLETED, {"late": True})
    assert late.refusal is not None
    assert late.refusal.kind == IGNORED and late.refusal.task == h.attempts("a")[0]
    assert late.refusal.message == f"Task {first.task_id} is already TIMED_OUT"

    # the retry times out too: no retries left, and the run times out (Conductor's mapping)
    h.advance(5_000)
    second = h.claim("a")
    h.advance(30_000)
    h.fire(second)
    assert h.status is WorkflowStatus.TIMED_OUT
    assert h.run.reason_for_incompletion == "responseTimeoutSeconds (30 s) elapsed without an update"


def test_a_result_after_the_lease_ran_out_is_ignored_before_the_timer() -> None:
    h = Harness(workflow(simple("a", task_definition=task_def(response_timeout_seconds=10))))
    task = h.claim("a")
    h.advance(10_000)
    d = h.report(task, TaskResultStatus.COMPLETED)
    assert d.refusal is not None and d.refusal.kind == IGNORED
    assert "lease" in d.refusal.message
    assert h.task("a").status is TaskStatus.IN_PROGRESS


def test_in_progress_result_requeues_or_extends_the_lease() -> None:
    h = Harness(workflow(simple("a", task_definition=task_def(response_timeout_seconds=60))))
    h.claim("a")
    h.advance(1_000)
    h.report("a", TaskResultStatus.IN_PROGRESS, {"step": 1}, callback_after_seconds=30)
    a = h.task("a")
    assert a.status is TaskStatus.SCHEDULED
    assert a.visible_at == h.now + 30_000 and a.lease_expires_at == 0
    assert a.callback_after_seconds == 30
    assert a.output_data == {"step": 1}
    h.advance(30_000)
    h.claim("a")
    h.advance(50_000)
    h.report("a", TaskResultStatus.IN_PROGRESS, {"step": 2}, extend_lease=True)
    a = h.task("a")
    assert a.status is TaskStatus.IN_PROGRESS
    assert a.lease_expires_at == h.now + 60_000
    assert a.output_data == {"step": 2}
    h.advance(20_000)  # past the first lease, within the extended one
    assert_rearmed(h.fire("a"), a)
    h.report("a", TaskResultStatus.COMPLETED, {"step": 3})
    assert h.status is WorkflowStatus.COMPLETED


def test_results_are_refused_for_unknown_tasks_and_ignored_for_finished_ones() -> None:
    h = Harness(workflow(simple("a"), simple("b")))
    unknown = h.apply(TaskResultReceived(result=TaskResult(task_id="nope", status=TaskResultStatus.COMPLETED)))
    assert unknown.refusal is not None and unknown.refusal.kind == "not_found"
    first = h.task("a")
    h.complete("a")
    again = h.report(first, TaskResultStatus.FAILED)
    assert again.refusal is not None and again.refusal.kind == IGNORED
    assert again.refusal.message == f"Task {first.task_id} is already COMPLETED"
    h.terminate()
    after = h.report("b", TaskResultStatus.COMPLETED)
    assert after.refusal is not None and after.refusal.kind == IGNORED
    assert after.refusal.message == f"Task {h.task('b').task_id} is already CANCELED"
    timer = h.apply(TimerFired(task_id="nope"))
    assert timer.refusal is not None and timer.refusal.kind == "not_found"


def test_a_result_for_a_scheduled_task_is_accepted() -> None:
    h = Harness(workflow(simple("a")))
    h.report("a", TaskResultStatus.COMPLETED, {"direct": True}, worker_id="api")
    assert h.status is WorkflowStatus.COMPLETED
    assert h.task("a").worker_id == "api"
    assert h.task("a").start_time == h.now


def test_a_human_task_failed_by_reference_fails_the_run() -> None:
    h = Harness(workflow(system("HUMAN", "h"), simple("a")))
    h.signal("h", TaskResultStatus.FAILED)
    assert h.status is WorkflowStatus.FAILED
    assert h.run.failed_reference_task_names == ["h"]
    assert all(t.status.is_terminal for t in h.run.tasks)
