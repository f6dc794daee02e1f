"""The decider's timeouts: task ``timeoutSeconds``/``pollTimeoutSeconds``/``totalTimeoutSeconds`` per
``timeoutPolicy``, run timeouts, delayed server-run tasks, and the timer rule the store derives rows from."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baton.engine import Retry, RunTimerFired
from baton.engine.timeouts import run_timer_at, task_timer_at
from baton.model import (
    TaskResultStatus,
    TaskStatus,
    TaskTimeoutPolicy,
    WorkflowStatus,
    WorkflowTimeoutPolicy,
)
from baton.store.common import plans
from tests.engine.decider_support import T0, Harness, assert_rearmed, simple, system, task_def, workflow
from tests.helpers import examples

RETRY, TIME_OUT_WF, ALERT_ONLY = TaskTimeoutPolicy.RETRY, TaskTimeoutPolicy.TIME_OUT_WF, TaskTimeoutPolicy.ALERT_ONLY


def timed(policy: TaskTimeoutPolicy, **kw: Any) -> Harness:
    settings: dict[str, Any] = {"retry_count": 1, "retry_delay_seconds": 0, "response_timeout_seconds": 5}
    settings.update(kw)
    return Harness(workflow(simple("a", task_definition=task_def(timeout_policy=policy, **settings)), simple("b")))


def keep_alive(h: Harness, ms: int) -> None:
    """The worker reports IN_PROGRESS with extendLease every 4 s for ``ms``: the lease never runs out."""
    for _ in range(ms // 4_000):
        h.advance(4_000)
        d = h.report("a", TaskResultStatus.IN_PROGRESS, extend_lease=True)
        assert d.refusal is None


# -- timeoutSeconds ----------------------------------------------------------------


def test_timeout_seconds_with_retry_times_out_and_retries() -> None:
    h = timed(RETRY, timeout_seconds=10)
    assert task_timer_at(h.task("a")) is None  # queued: no timer until it starts
    claimed = h.claim("a")
    assert task_timer_at(claimed) == T0 + 5_000  # the lease comes first
    keep_alive(h, 8_000)
    assert task_timer_at(h.task("a")) == T0 + 10_000  # the timeout comes before the extended lease
    h.advance(2_000)
    d = h.fire("a")
    assert d.refusal is None and not d.alerts
    first, retry = h.attempts("a")
    assert first.status is TaskStatus.TIMED_OUT
    assert first.reason_for_incompletion == (
        "Task timed out after 10 seconds. Timeout configured as 10 seconds. Timeout policy configured to RETRY"
    )
    assert (retry.status, retry.retry_count, retry.start_time) == (TaskStatus.SCHEDULED, 1, 0)
    assert h.status is WorkflowStatus.RUNNING


def test_timeout_seconds_counts_from_the_first_poll_and_its_start_delay() -> None:
    h = Harness(
        workflow(
            simple(
                "a",
                start_delay=3,
                task_definition=task_def(timeout_seconds=20, response_timeout_seconds=20, timeout_policy=RETRY),
            )
        )
    )
    h.advance(3_000)
    h.claim("a")
    first_start = h.now
    h.advance(1_000)
    h.report("a", TaskResultStatus.IN_PROGRESS, callback_after_seconds=5)  # back in the queue
    h.advance(5_000)
    again = h.claim("a")
    assert again.start_time == first_start and again.poll_count == 2
    # Conductor's rule: first start + startDelayInSeconds + timeoutSeconds, not the later poll's time.
    assert task_timer_at(again) == first_start + 23_000


def test_timeout_seconds_with_time_out_wf_ends_the_run_whatever_retries_or_optional_say() -> None:
    h = Harness(
        workflow(
            simple(
                "a",
                optional=True,
                task_definition=task_def(timeout_seconds=10, response_timeout_seconds=5, retry_count=3),
            ),
            simple("b"),
        )
    )
    h.claim("a")
    keep_alive(h, 8_000)
    h.advance(2_000)
    h.fire("a")
    assert h.status is WorkflowStatus.TIMED_OUT
    assert len(h.attempts("a")) == 1
    assert h.task("a").status is TaskStatus.TIMED_OUT
    assert h.run.reason_for_incompletion is not None
    assert h.run.reason_for_incompletion.startswith("Task timed out after 10 seconds")
    assert h.run.failed_reference_task_names == ["a"]


def test_timeout_seconds_with_alert_only_raises_one_alert_and_changes_nothing_else() -> None:
    h = timed(ALERT_ONLY, timeout_seconds=10)
    h.claim("a")
    keep_alive(h, 8_000)
    h.advance(2_000)
    before = h.task("a")
    d = h.fire("a")
    assert d.refusal is None and not d.created
    assert len(d.alerts) == 1 and "Timeout policy configured to ALERT_ONLY" in d.alerts[0]
    after = h.task("a")
    assert after.timeout_alerted_at == h.now
    assert after.status is TaskStatus.IN_PROGRESS and after.lease_expires_at == before.lease_expires_at
    assert task_timer_at(after) == before.lease_expires_at  # the alert is not raised again
    h.report("a", TaskResultStatus.COMPLETED)
    h.complete("b")
    assert h.status is WorkflowStatus.COMPLETED


def test_an_alert_and_a_lease_due_together_are_both_handled() -> None:
    h = timed(ALERT_ONLY, timeout_seconds=5)
    h.claim("a")
    h.advance(5_000)
    d = h.fire("a")
    assert len(d.alerts) == 1
    first, retry = h.attempts("a")
    assert first.status is TaskStatus.TIMED_OUT and first.timeout_alerted_at == h.now
    assert first.reason_for_incompletion == "responseTimeoutSeconds (5 s) elapsed without an update"
    assert retry.status is TaskStatus.SCHEDULED


def test_a_human_task_with_a_task_definition_times_out() -> None:
    h = Harness(workflow(system("HUMAN", "review", task_definition=task_def(timeout_seconds=60))))
    review = h.task("review")
    assert review.status is TaskStatus.IN_PROGRESS
    assert task_timer_at(review) == T0 + 60_000
    h.advance(60_000)
    h.fire("review")
    assert h.task("review").status is TaskStatus.TIMED_OUT
    assert h.status is WorkflowStatus.TIMED_OUT


def test_server_run_tasks_without_a_task_definition_have_no_timeout() -> None:
    h = Harness(workflow(system("HUMAN", "review")))
    assert task_timer_at(h.task("review")) is None


# -- pollTimeoutSeconds ------------------------------------------------------------


def test_poll_timeout_times_out_a_task_nobody_polled() -> None:
    h = timed(RETRY, poll_timeout_seconds=30, retry_delay_seconds=2)
    queued = h.task("a")
    assert task_timer_at(queued) == T0 + 30_000
    h.advance(29_999)
    assert_rearmed(h.fire("a"), queued)
    h.advance(1)
    h.fire("a")
    first, retry = h.attempts("a")
    assert first.status is TaskStatus.TIMED_OUT
    assert first.reason_for_incompletion == (
        "Task poll timed out after 30 seconds. Poll timeout configured as 30 seconds. "
        "Timeout policy configured to RETRY"
    )
    # The retry gets its own poll timeout, counted from when it becomes visible (after its delay).
    assert retry.visible_at == h.now + 2_000
    assert task_timer_at(retry) == h.now + 32_000


def test_poll_timeout_counts_from_the_start_delay_and_time_out_wf_ends_the_run() -> None:
    h = Harness(workflow(simple("a", start_delay=10, task_definition=task_def(poll_timeout_seconds=5))))
    assert task_timer_at(h.task("a")) == T0 + 15_000
    h.advance(15_000)
    h.fire("a")
    assert h.status is WorkflowStatus.TIMED_OUT
    assert h.run.reason_for_incompletion is not None and "Poll timeout configured as 5" in h.run.reason_for_incompletion


def test_a_polled_task_has_no_poll_timeout_and_a_stale_poll_timer_re_arms() -> None:
    h = timed(TIME_OUT_WF, poll_timeout_seconds=3, response_timeout_seconds=10)
    h.advance(1_000)
    claimed = h.claim("a")
    assert task_timer_at(claimed) == claimed.lease_expires_at
    # A PostgreSQL claim may leave the poll deadline in the timer row: firing it re-derives the row.
    h.advance(2_000)
    assert_rearmed(h.fire("a"), claimed)
    assert h.status is WorkflowStatus.RUNNING


def test_poll_timeout_alert_only_then_the_task_timeout_alerts_again() -> None:
    h = timed(ALERT_ONLY, poll_timeout_seconds=2, timeout_seconds=10)
    h.advance(2_000)
    assert len(h.fire("a").alerts) == 1
    assert task_timer_at(h.task("a")) is None  # alerted; nothing else due while queued
    h.advance(1_000)
    h.claim("a")
    keep_alive(h, 8_000)
    h.advance(3_000)
    d = h.fire("a")
    assert len(d.alerts) == 1 and "Timeout configured as 10 seconds" in d.alerts[0]


# -- totalTimeoutSeconds -----------------------------------------------------------


def test_total_timeout_stops_retries_and_times_out_the_attempt_under_way() -> None:
    h = timed(RETRY, retry_count=5, retry_delay_seconds=1, total_timeout_seconds=10, response_timeout_seconds=8)
    h.fail("a", "first")
    h.advance(1_000)
    second = h.claim("a")
    assert second.first_scheduled_time == T0
    assert task_timer_at(second) == T0 + 9_000  # the lease, still inside the budget
    h.advance(2_000)
    h.report("a", TaskResultStatus.IN_PROGRESS, extend_lease=True)
    assert task_timer_at(h.task("a")) == T0 + 10_000  # the budget ends before the new lease
    h.advance(7_000)
    d = h.fire("a")
    assert d.refusal is None
    assert [t.status for t in h.attempts("a")] == [TaskStatus.FAILED, TaskStatus.TIMED_OUT]
    assert h.status is WorkflowStatus.TIMED_OUT
    assert h.run.reason_for_incompletion == "Task exceeded its totalTimeoutSeconds (10 s) across its attempts"


def test_a_failure_after_the_budget_is_not_retried_and_an_optional_step_goes_on() -> None:
    definition = task_def(retry_count=5, retry_delay_seconds=0, total_timeout_seconds=10, response_timeout_seconds=60)
    h = Harness(workflow(simple("a", optional=True, task_definition=definition), simple("b")))
    h.fail("a")
    h.claim("a")
    h.advance(10_000)
    h.report("a", TaskResultStatus.FAILED)  # before the sweeper fired the budget's timer
    assert len(h.attempts("a")) == 2
    assert h.attempts("a")[1].status is TaskStatus.COMPLETED_WITH_ERRORS
    assert h.refs()[-1] == "b"


def test_the_budget_runs_out_while_a_retry_waits_for_its_delay() -> None:
    h = timed(RETRY, retry_count=3, retry_delay_seconds=30, total_timeout_seconds=20)
    h.fail("a")
    waiting = h.task("a")
    assert waiting.visible_at == T0 + 30_000
    assert task_timer_at(waiting) == T0 + 20_000
    h.advance(20_000)
    h.fire("a")
    assert h.task("a").status is TaskStatus.TIMED_OUT
    assert h.status is WorkflowStatus.TIMED_OUT


# -- startDelay on server-run tasks ------------------------------------------------


def test_start_delay_delays_a_server_run_task_on_a_timer() -> None:
    inline = system(
        "INLINE",
        "later",
        start_delay=5,
        input_parameters={"evaluatorType": "javascript", "expression": "1 + 1"},
    )
    h = Harness(workflow(inline, simple("b")))
    task = h.task("later")
    assert (task.status, task.visible_at, task.start_delay_in_seconds) == (TaskStatus.SCHEDULED, T0 + 5_000, 5)
    assert plans.timer_at(task) == T0 + 5_000
    assert h.refs() == ["later"]
    h.advance(4_000)
    assert_rearmed(h.fire("later"), task)
    h.advance(1_000)
    h.fire("later")
    assert h.task("later").output_data == {"result": 2}
    assert h.refs() == ["later", "b"]


# -- run timeouts ------------------------------------------------------------------


def test_run_timeout_time_out_wf_ends_the_run_and_cancels_its_tasks() -> None:
    definition = workflow(simple("a"), timeout_seconds=60, timeout_policy=WorkflowTimeoutPolicy.TIME_OUT_WF)
    h = Harness(definition)
    assert run_timer_at(h.run, definition) == T0 + 60_000
    h.claim("a")
    h.advance(59_999)
    early = h.apply(RunTimerFired())
    assert early.refusal is not None and early.refusal.kind == "conflict"
    h.advance(1)
    d = h.apply(RunTimerFired())
    assert d.refusal is None
    assert h.status is WorkflowStatus.TIMED_OUT
    assert h.run.reason_for_incompletion == (
        "Workflow timed out after 60 seconds. Timeout configured as 60 seconds. "
        "Timeout policy configured to TIME_OUT_WF"
    )
    assert h.task("a").status is TaskStatus.CANCELED
    assert run_timer_at(h.run, definition) is None
    late = h.report("a", TaskResultStatus.COMPLETED)
    assert late.refusal is not None


def test_run_timeout_alert_only_alerts_once_and_the_run_goes_on() -> None:
    definition = workflow(simple("a"), timeout_seconds=30)  # ALERT_ONLY is the default, as in Conductor
    h = Harness(definition)
    h.advance(30_000)
    d = h.apply(RunTimerFired())
    assert len(d.alerts) == 1 and "Timeout policy configured to ALERT_ONLY" in d.alerts[0]
    assert h.status is WorkflowStatus.RUNNING and h.run.timeout_alerted_at == h.now
    assert run_timer_at(h.run, definition) is None
    assert h.apply(RunTimerFired()).refusal is not None
    h.complete("a")
    assert h.status is WorkflowStatus.COMPLETED


def test_run_timeout_counts_from_the_last_retry() -> None:
    definition = workflow(simple("a"), timeout_seconds=10)
    h = Harness(definition, last_retried_time=T0 + 50_000)
    assert run_timer_at(h.run, definition) == T0 + 60_000


def test_an_operators_retry_restarts_the_run_timeout_and_the_step_budget() -> None:
    definition = workflow(
        simple("a", task_definition=task_def(retry_count=0, total_timeout_seconds=5)),
        timeout_seconds=60,
        timeout_policy=WorkflowTimeoutPolicy.TIME_OUT_WF,
    )
    h = Harness(definition)
    h.advance(5_000)
    h.fire("a")
    assert h.status is WorkflowStatus.TIMED_OUT
    h.advance(100_000)
    h.apply(Retry())
    assert h.status is WorkflowStatus.RUNNING and h.run.last_retried_time == h.now
    assert run_timer_at(h.run, definition) == h.now + 60_000
    retry = h.task("a")
    assert (retry.status, retry.first_scheduled_time, retry.scheduled_time) == (TaskStatus.SCHEDULED, 0, h.now)
    assert task_timer_at(retry) == h.now + 5_000
    h.complete("a")
    assert h.status is WorkflowStatus.COMPLETED


def test_no_run_timer_without_a_timeout() -> None:
    definition = workflow(simple("a"))
    h = Harness(definition)
    assert run_timer_at(h.run, definition) is None
    assert h.apply(RunTimerFired()).refusal is not None


# -- property: random timeout settings, a world that answers, stalls or goes silent ---

timeout_settings = st.fixed_dictionaries(
    {
        "retry_count": st.integers(0, 3),
        "retry_delay_seconds": st.integers(0, 5),
        "response_timeout_seconds": st.integers(1, 10),
        "timeout_seconds": st.sampled_from([0, 10, 30]),
        "poll_timeout_seconds": st.sampled_from([None, 0, 3, 20]),
        "total_timeout_seconds": st.sampled_from([None, 0, 15, 60]),
        "timeout_policy": st.sampled_from(list(TaskTimeoutPolicy)),
    }
)
run_settings = st.fixed_dictionaries(
    {"timeout_seconds": st.sampled_from([0, 40, 200]), "timeout_policy": st.sampled_from(list(WorkflowTimeoutPolicy))}
)


@settings(max_examples=examples(120), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(st.tuples(timeout_settings, st.booleans()), min_size=1, max_size=3),
    run=run_settings,
    data=st.data(),
)
def test_random_timeouts_always_end_the_run(
    steps: list[tuple[dict[str, Any], bool]], run: dict[str, Any], data: st.DataObject
) -> None:
    tasks = []
    for index, (settings_, optional) in enumerate(steps):
        tasks.append(simple(f"s{index}", optional=optional, task_definition=task_def(f"s{index}", **settings_)))
    definition = workflow(*tasks, **run)
    h = Harness(definition, check_determinism=True)
    for _ in range(300):
        if h.status.is_terminal:
            break
        pending = [t for t in h.run.tasks if not t.status.is_terminal]
        assert len(pending) == 1
        task = pending[0]
        due = [at for at in (task_timer_at(task), run_timer_at(h.run, definition)) if at is not None]
        move = data.draw(st.integers(0, 3), label="move")
        if move == 0 and due:  # silence: the next timer fires, exactly when due
            h.advance(max(0, min(due) - h.now))
            fired = h.apply(RunTimerFired()) if min(due) == run_timer_at(h.run, definition) else h.fire(task)
            assert fired.refusal is None, fired.refusal
            continue
        if task.status is TaskStatus.SCHEDULED:
            if task.visible_at > h.now:
                h.advance(task.visible_at - h.now)
                if (at := task_timer_at(task)) is not None and at <= h.now:
                    assert h.fire(task).refusal is None
                    continue
            task = h.claim(task.reference_task_name)
        outcome = TaskResultStatus.FAILED if move == 1 else TaskResultStatus.COMPLETED
        assert h.report(task, outcome).refusal is None
    assert h.status.is_terminal, "the run did not end"
    for task in h.run.tasks:
        if task.retry_count and (budget := task.workflow_task and task.workflow_task.task_definition):
            total = budget.total_timeout_seconds
            if total:
                # no attempt was scheduled after the step's budget ran out
                assert task.scheduled_time < task.first_scheduled_time + total * 1000
    assert [t for t in h.run.tasks if not t.status.is_terminal] == []
    if h.status is WorkflowStatus.TIMED_OUT:
        assert h.run.reason_for_incompletion
    alerting = any(s.timeout_policy is ALERT_ONLY for s in (t.task_definition for t in tasks) if s is not None)
    alerting = alerting or definition.timeout_policy is WorkflowTimeoutPolicy.ALERT_ONLY
    if not alerting:
        assert not any(d.alerts for d in h.decisions)
