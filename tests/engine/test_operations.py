"""An operator's events in the decider (engine/operations.py): pure decisions, refusals that name the state."""

from __future__ import annotations

import msgspec
import pytest

from baton.engine import Decide, Pause, Rerun, Restart, Resume, Retry, SkipTask, UpdateVariables
from baton.model import TaskExecLog, TaskResultStatus, TaskStatus, WorkflowStatus
from tests.engine.decider_support import Harness, simple, system, task_def, workflow


def three_steps(**kw: object) -> Harness:
    definition = workflow(
        simple("a", task_definition=task_def("a_task", retry_count=0)),
        simple("b", task_definition=task_def("b_task", retry_count=0)),
        simple("c", task_definition=task_def("c_task", retry_count=0)),
        input_template={"mode": "default"},
        variables={"count": 0},
        **kw,
    )
    return Harness(definition, {"x": 1}, check_determinism=True)


def statuses(h: Harness) -> list[tuple[str, TaskStatus]]:
    return [(t.reference_task_name, t.status) for t in h.run.tasks]


def refused(h: Harness, event: object, kind: str, *words: str) -> None:
    before = h.run
    decision = h.apply(event)  # type: ignore[arg-type]
    assert decision.refusal is not None and decision.refusal.kind == kind, decision.refusal
    for word in words:
        assert word in decision.refusal.message
    assert h.run == before


def test_pause_records_a_result_and_schedules_nothing_until_resume() -> None:
    h = three_steps()
    h.claim("a")
    h.apply(Pause())
    assert h.status is WorkflowStatus.PAUSED
    h.apply(Pause())  # pausing a paused run changes nothing
    assert h.status is WorkflowStatus.PAUSED

    h.report("a", TaskResultStatus.COMPLETED, {"n": 1})
    assert statuses(h) == [("a", TaskStatus.COMPLETED)]

    h.apply(Resume())
    assert h.status is WorkflowStatus.RUNNING
    assert statuses(h) == [("a", TaskStatus.COMPLETED), ("b", TaskStatus.SCHEDULED)]
    refused(h, Resume(), "conflict", "RUNNING", "not PAUSED")


def test_pause_and_resume_of_an_ended_run_are_refused() -> None:
    h = three_steps()
    h.terminate("stop")
    refused(h, Pause(), "conflict", "wf-1", "TERMINATED")
    refused(h, Resume(), "conflict", "TERMINATED")
    refused(h, Decide(), "conflict", "TERMINATED")
    refused(h, UpdateVariables(variables={"a": 1}), "conflict", "TERMINATED")
    refused(h, SkipTask(reference_task_name="b"), "conflict", "TERMINATED")


def test_restart_removes_every_task_and_starts_over() -> None:
    h = three_steps()
    h.complete("a")
    h.apply(UpdateVariables(variables={"count": 5}))
    refused(h, Restart(), "conflict", "RUNNING")
    h.fail("b", "broken")
    assert h.status is WorkflowStatus.FAILED
    old_ids = [t.task_id for t in h.run.tasks]

    decision = h.apply(Restart())

    assert sorted(decision.removed) == sorted(old_ids)
    assert decision.definition is None
    assert statuses(h) == [("a", TaskStatus.SCHEDULED)]
    assert h.run.tasks[0].seq == 1 and h.run.tasks[0].task_id not in old_ids
    run = h.run
    assert (run.status, run.reason_for_incompletion, run.end_time, run.failed_reference_task_names) == (
        WorkflowStatus.RUNNING,
        None,
        0,
        [],
    )
    assert run.input == {"mode": "default", "x": 1}
    assert run.variables == {"count": 0}


def test_restart_with_another_definition_moves_the_run_to_it() -> None:
    h = three_steps()
    h.terminate()
    latest = workflow(system("NOOP", "only"), version=2)

    decision = h.apply(Restart(definition=latest))

    assert decision.definition == latest
    assert (h.status, h.run.workflow_version) == (WorkflowStatus.COMPLETED, 2)
    assert statuses(h) == [("only", TaskStatus.COMPLETED)]


def test_restartable_false_refuses_only_a_completed_run() -> None:
    h = three_steps(restartable=False)
    h.terminate()
    assert h.apply(Restart()).refusal is None
    for ref in ("a", "b", "c"):
        h.complete(ref)
    assert h.status is WorkflowStatus.COMPLETED
    refused(h, Restart(), "conflict", "COMPLETED", "not restartable")


def test_retry_schedules_a_new_attempt_of_the_failed_step_only() -> None:
    h = three_steps()
    h.complete("a", {"a": 1})
    failed = h.task("b")
    h.fail("b", "broken")

    h.apply(Retry())

    assert h.status is WorkflowStatus.RUNNING and h.run.reason_for_incompletion is None
    assert statuses(h) == [("a", TaskStatus.COMPLETED), ("b", TaskStatus.FAILED), ("b", TaskStatus.SCHEDULED)]
    attempt = h.task("b")
    assert (attempt.retry_count, attempt.retried_task_id, attempt.seq) == (1, failed.task_id, 3)
    assert h.attempts("b")[0].retried is True
    h.complete("b")
    h.complete("c")
    assert h.status is WorkflowStatus.COMPLETED
    refused(h, Retry(), "conflict", "COMPLETED")


def test_retry_a_terminated_run_reschedules_its_cancelled_step() -> None:
    h = three_steps()
    h.complete("a")
    h.terminate()
    h.apply(Retry())
    assert statuses(h)[-2:] == [("b", TaskStatus.CANCELED), ("b", TaskStatus.SCHEDULED)]


def test_retry_with_nothing_failed_is_refused_but_a_timed_out_run_runs_on() -> None:
    h = Harness(workflow(simple("a")), check_determinism=True)
    h.complete("a")
    # As a run-level failure (a workflow timeout, say) leaves it: ended, with no failed task.
    h.run = msgspec.structs.replace(h.run, status=WorkflowStatus.FAILED)
    refused(h, Retry(), "conflict", "no failed task", "restart")
    h.run = msgspec.structs.replace(h.run, status=WorkflowStatus.TIMED_OUT)
    assert h.apply(Retry()).refusal is None
    assert h.status is WorkflowStatus.COMPLETED


def test_rerun_from_a_task_removes_the_tasks_after_it() -> None:
    h = three_steps()
    h.complete("a", {"a": 1})
    middle = h.task("b")
    h.complete("b", {"b": 1})
    last = h.task("c")
    h.complete("c")
    refused(h, Rerun(from_task_id="nope"), "not_found", "nope")

    decision = h.apply(Rerun(from_task_id=middle.task_id, task_input={"x": 42}, correlation_id="again"))

    assert decision.removed == [last.task_id]
    assert statuses(h) == [("a", TaskStatus.COMPLETED), ("b", TaskStatus.SCHEDULED)]
    again = h.task("b")
    assert (again.task_id, again.input_data, again.output_data) == (middle.task_id, {"x": 42}, {})
    assert (h.status, h.run.correlation_id, h.run.output) == (WorkflowStatus.RUNNING, "again", {})
    refused(h, Rerun(), "conflict", "RUNNING")


def test_rerun_a_system_task_runs_it_at_once() -> None:
    h = Harness(workflow(system("NOOP", "n"), simple("a")), check_determinism=True)
    noop = h.task("n")
    h.complete("a")
    h.apply(Rerun(from_task_id=noop.task_id, workflow_input={"y": 2}))
    assert statuses(h) == [("n", TaskStatus.COMPLETED), ("a", TaskStatus.SCHEDULED)]
    assert h.run.input == {"y": 2}


def test_skip_a_step_ahead_and_a_pending_one() -> None:
    h = three_steps()
    h.apply(SkipTask(reference_task_name="b", task_output={"b": "skipped"}))
    assert statuses(h) == [("a", TaskStatus.SCHEDULED), ("b", TaskStatus.SKIPPED)]

    h.claim("a")
    h.apply(SkipTask(reference_task_name="a", task_output={"a": 0}))

    assert statuses(h) == [("a", TaskStatus.SKIPPED), ("b", TaskStatus.SKIPPED), ("c", TaskStatus.SCHEDULED)]
    assert h.task("b").output_data == {"b": "skipped"}
    refused(h, SkipTask(reference_task_name="a"), "conflict", "already SKIPPED")
    refused(h, SkipTask(reference_task_name="zz"), "not_found", "zz")
    h.apply(Pause())
    refused(h, SkipTask(reference_task_name="c"), "conflict", "PAUSED")


def test_variables_merge_and_decide_advances_a_running_run() -> None:
    h = three_steps()
    h.apply(UpdateVariables(variables={"extra": [1]}))
    assert h.run.variables == {"count": 0, "extra": [1]}
    assert h.apply(Decide()).refusal is None
    h.apply(Pause())
    h.apply(UpdateVariables(variables={"count": 2}))
    assert h.run.variables == {"count": 2, "extra": [1]}
    refused(h, Decide(), "conflict", "PAUSED")


def test_variables_with_append_array_extend_the_lists_and_replace_the_rest() -> None:
    h = three_steps()
    h.apply(UpdateVariables(variables={"extra": [1], "tags": "a"}))
    h.apply(UpdateVariables(variables={"extra": 2, "tags": "b", "new": [3]}, append_array=True))
    assert h.run.variables == {"count": 0, "extra": [1, 2], "tags": "b", "new": [3]}
    h.apply(UpdateVariables(variables={"extra": [3, 4]}, append_array=True))
    assert h.run.variables["extra"] == [1, 2, 3, 4]


@pytest.mark.parametrize("event", [Pause(), Resume(), Restart(), Retry(), Rerun(), Decide()])
def test_events_never_mutate_the_run_they_are_given(event: object) -> None:
    h = three_steps()
    h.fail("a")
    before = h.run
    snapshot = msgspec.json.encode(before)
    h.apply(event)  # type: ignore[arg-type]
    assert msgspec.json.encode(before) == snapshot


def test_a_worker_results_logs_come_with_its_decision() -> None:
    h = three_steps()
    task = h.claim("a")
    logs = [TaskExecLog(log="first", created_time=5), TaskExecLog(log="second")]

    decision = h.report("a", TaskResultStatus.COMPLETED, logs=logs)

    assert [(log.log, log.task_id, log.created_time) for log in decision.logs] == [
        ("first", task.task_id, 5),
        ("second", task.task_id, h.now),
    ]
    late = h.report(task, TaskResultStatus.COMPLETED, logs=logs)
    assert late.refusal is not None and late.logs == []
