"""The decider through ``start`` and ``apply``: Conductor's semantics, one scenario at a time.

Runs as a whole here (sequences, termination, pausing and guards, smaller rules);
system tasks in ``test_decider_system_tasks.py``, results and retries in
``test_decider_results.py``.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from baton.engine import DecideContext, TaskResultReceived, apply, start
from baton.engine.decision import IGNORED
from baton.model import TaskResult, TaskResultStatus, TaskStatus, Workflow, WorkflowStatus
from tests.engine.decider_support import T0, Harness, simple, system, task_def, workflow

COMPLETED = TaskStatus.COMPLETED


def three_steps(**kw: Any) -> Any:
    return workflow(
        simple("a", input_parameters={"x": "${workflow.input.x}"}),
        simple("b", input_parameters={"prev": "${a.output.value}", "text": "got ${a.output.value}"}),
        simple("c", input_parameters={"all": "${b.output}"}),
        **kw,
    )


# -- sequences -----------------------------------------------------------------


def test_three_simple_steps_complete_in_order() -> None:
    h = Harness(three_steps(), {"x": 41})
    first = h.last
    assert [t.reference_task_name for t in first.created] == ["a"]
    a = h.task("a")
    assert a.task_type == "a_task" and a.task_def_name == "a_task"
    assert a.status is TaskStatus.SCHEDULED and a.is_worker_task
    assert a.input_data == {"x": 41}
    assert a.seq == 1 and a.retry_count == 0
    assert a.scheduled_time == T0 and a.visible_at == T0
    assert a.workflow_instance_id == "wf-1" and a.workflow_type == "flow"
    assert a.response_timeout_seconds == 3600  # Conductor's TaskDef default
    assert h.status is WorkflowStatus.RUNNING
    assert h.run.start_time == T0

    h.advance(10)
    d = h.complete("a", {"value": 42})
    assert [t.reference_task_name for t in d.updated] == ["a"]
    assert [t.reference_task_name for t in d.created] == ["b"]
    assert h.task("a").status is COMPLETED and h.task("a").end_time == T0 + 10
    assert h.task("a").worker_id == "w1"
    assert h.task("b").input_data == {"prev": 42, "text": "got 42"}
    assert h.task("b").seq == 2

    h.complete("b", {"y": [1, 2]})
    assert h.task("c").input_data == {"all": {"y": [1, 2]}}
    h.advance(5)
    h.complete("c", {"done": True})
    assert h.status is WorkflowStatus.COMPLETED
    assert h.run.output == {"done": True}  # the last task's output, Conductor's default
    assert h.run.end_time == T0 + 15
    assert h.refs() == ["a", "b", "c"]


def test_output_parameters() -> None:
    h = Harness(
        three_steps(output_parameters={"first": "${a.output.value}", "name": "${workflow.input.x}-done"}),
        {"x": "job"},
    )
    for ref in ("a", "b", "c"):
        h.complete(ref, {"value": ref.upper()})
    assert h.run.output == {"first": "A", "name": "job-done"}


def test_the_callers_run_is_never_mutated() -> None:
    h = Harness(three_steps(), {"x": 1})
    before = msgspec.json.encode(h.run)
    task = h.claim("a")
    run_before_result = h.run
    snapshot = msgspec.json.encode(run_before_result)
    decision = apply(
        h.definition,
        run_before_result,
        TaskResultReceived(result=TaskResult(task_id=task.task_id, status=TaskResultStatus.COMPLETED)),
        h.ctx(),
    )
    assert decision.refusal is None
    assert msgspec.json.encode(run_before_result) == snapshot
    assert before != snapshot  # the claim changed it, the decision did not


def test_an_empty_definition_completes_at_start() -> None:
    h = Harness(workflow(output_parameters={"echo": "${workflow.input.v}"}), {"v": 3})
    assert h.status is WorkflowStatus.COMPLETED
    assert h.run.output == {"echo": 3}
    assert h.last.created == []


def test_start_applies_input_template_and_variables() -> None:
    h = Harness(
        workflow(
            system("INLINE", "i", input_parameters={"evaluatorType": "value-param", "expression": "v"}),
            input_template={"a": 1, "b": 2},
            variables={"counter": 0},
        ),
        {"b": 3},
    )
    assert h.run.input == {"a": 1, "b": 3}
    assert h.run.variables == {"counter": 0}


def test_start_delay_delays_visibility() -> None:
    h = Harness(workflow(simple("a", start_delay=30)))
    assert h.task("a").visible_at == T0 + 30_000
    assert h.task("a").start_delay_in_seconds == 30


# -- terminate -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("termination", "status"),
    [
        ("COMPLETED", WorkflowStatus.COMPLETED),
        ("FAILED", WorkflowStatus.FAILED),
        ("TERMINATED", WorkflowStatus.TERMINATED),
    ],
)
def test_terminate_task(termination: str, status: WorkflowStatus) -> None:
    h = Harness(
        workflow(
            system(
                "TERMINATE",
                "stop",
                input_parameters={
                    "terminationStatus": termination,
                    "workflowOutput": {"why": "${workflow.input.why}"},
                    "terminationReason": "enough",
                },
            ),
            simple("never"),
        ),
        {"why": "because"},
    )
    assert h.status is status
    assert h.run.output == {"why": "because"}
    assert h.task("stop").status is COMPLETED
    assert "never" not in h.refs()
    if status is WorkflowStatus.COMPLETED:
        assert h.run.reason_for_incompletion is None
    else:
        assert h.run.reason_for_incompletion == "enough"


def test_terminate_task_with_a_bad_status_fails() -> None:
    h = Harness(workflow(system("TERMINATE", "stop", input_parameters={"terminationStatus": "MAYBE"})))
    assert h.task("stop").status is TaskStatus.FAILED
    assert "terminationStatus must be" in (h.run.reason_for_incompletion or "")


def test_terminate_event_cancels_pending_tasks() -> None:
    h = Harness(three_steps(), {"x": 1})
    h.claim("a")
    h.advance(3)
    d = h.terminate("operator said so")
    assert d.refusal is None
    assert h.status is WorkflowStatus.TERMINATED
    assert h.run.reason_for_incompletion == "operator said so"
    assert h.run.end_time == T0 + 3
    assert h.task("a").status is TaskStatus.CANCELED
    again = h.terminate("twice")
    assert again.refusal is not None and again.refusal.kind == "conflict"
    assert again.refusal.message == "Workflow wf-1 is already TERMINATED"


# -- paused runs and guards ----------------------------------------------------


def test_a_paused_run_applies_results_but_schedules_nothing() -> None:
    h = Harness(workflow(simple("a", task_definition=task_def(retry_count=2, retry_delay_seconds=0)), simple("b")))
    h.run = msgspec.structs.replace(h.run, status=WorkflowStatus.PAUSED)
    h.complete("a")
    assert h.task("a").status is COMPLETED
    assert h.refs() == ["a"]
    assert h.status is WorkflowStatus.PAUSED


MAX_STEPS = DecideContext(now=0, new_id=str).max_steps_per_decision


def test_runaway_inline_steps_fail_the_run() -> None:
    steps = [system("NOOP", f"n{i}") for i in range(MAX_STEPS + 5)]
    h = Harness(workflow(*steps))
    assert h.status is WorkflowStatus.FAILED
    assert "more than" in (h.run.reason_for_incompletion or "")
    assert "max_steps_per_decision" in (h.run.reason_for_incompletion or "")
    assert len(h.run.tasks) == MAX_STEPS


def test_system_task_with_explicit_retries_is_retried_inline() -> None:
    step = system(
        "INLINE",
        "i",
        input_parameters={"evaluatorType": "javascript", "expression": "throw 'x'"},
        task_definition=task_def("i", retry_count=2, retry_delay_seconds=0),
    )
    h = Harness(workflow(step))
    assert [t.retry_count for t in h.attempts("i")] == [0, 1, 2]
    assert h.status is WorkflowStatus.FAILED


def test_system_task_retry_with_a_delay_waits_for_its_timer() -> None:
    step = system(
        "INLINE",
        "i",
        input_parameters={"evaluatorType": "javascript", "expression": "throw 'x'"},
        task_definition=task_def("i", retry_count=1, retry_delay_seconds=5),
    )
    h = Harness(workflow(step))
    retry = h.task("i")
    assert retry.status is TaskStatus.SCHEDULED and retry.visible_at == T0 + 5_000
    h.advance(5_000)
    h.fire(retry)
    assert h.task("i").status is TaskStatus.FAILED
    assert h.status is WorkflowStatus.FAILED


def test_decisions_are_deterministic() -> None:
    definition = three_steps()
    run = Workflow(workflow_id="w", workflow_name="flow", workflow_version=1, input={"x": 1})

    def ids() -> Any:
        counter = iter(range(100))
        return lambda: f"id-{next(counter)}"

    one = start(definition, run, DecideContext(now=5, new_id=ids()))
    two = start(definition, run, DecideContext(now=5, new_id=ids()))
    assert one == two


# -- smaller rules -------------------------------------------------------------


def test_legacy_decision_with_a_case_expression_and_graaljs_inline() -> None:
    h = Harness(
        workflow(
            system(
                "INLINE",
                "calc",
                input_parameters={"evaluatorType": "graaljs", "expression": "$.v * 2", "v": 4},
            ),
            system(
                "DECISION",
                "d",
                case_expression="$.n >= 8 ? 'high' : 'low'",
                input_parameters={"n": "${calc.output.result}"},
                decision_cases={"high": [simple("high")], "low": [simple("low")]},
            ),
        )
    )
    assert h.task("calc").output_data == {"result": 8}
    assert h.task("d").output_data == {"caseOutput": ["high"]}
    assert h.refs() == ["calc", "d", "high"]


def test_cpewf_task_id_is_the_id_of_the_task_being_scheduled() -> None:
    h = Harness(workflow(simple("a", input_parameters={"me": "${CPEWF_TASK_ID}"})))
    assert h.task("a").input_data == {"me": h.task("a").task_id}


def test_a_step_of_an_unknown_type_is_a_worker_task_of_that_type() -> None:
    h = Harness(workflow(system("MY_CONNECTOR", "call")))
    call = h.task("call")
    assert call.task_type == "MY_CONNECTOR" and call.is_worker_task
    assert call.status is TaskStatus.SCHEDULED


def test_wait_with_both_duration_and_until_fails() -> None:
    h = Harness(workflow(system("WAIT", "w", input_parameters={"duration": "1s", "until": "2030-01-01"})))
    assert h.task("w").reason_for_incompletion == "WAIT takes 'duration' or 'until', not both"


def test_optional_terminal_error_and_optional_failed_switch() -> None:
    h = Harness(workflow(simple("a", optional=True), simple("b")))
    h.fail("a", "no", terminal=True)
    assert h.task("a").status is TaskStatus.COMPLETED_WITH_ERRORS
    assert h.refs() == ["a", "b"]
    s = Harness(
        workflow(
            system(
                "SWITCH",
                "s",
                optional=True,
                evaluator_type="javascript",
                expression="(",
                default_case=[simple("inside")],
            ),
            simple("after"),
        )
    )
    assert s.task("s").status is TaskStatus.COMPLETED_WITH_ERRORS
    assert s.refs() == ["s", "after"]  # a failed switch chooses no case


def test_events_on_a_finished_run_are_refused() -> None:
    h = Harness(workflow(system("WAIT", "w", input_parameters={"duration": "5s"})))
    wait = h.task("w")
    h.terminate()
    assert wait.visible_at > 0
    h.advance(10_000)
    fired = h.fire(wait)
    assert fired.refusal is not None and fired.refusal.message == "Workflow wf-1 is TERMINATED"
    signalled = h.signal("w")  # a status by reference is ignored (not applied), as Conductor does
    assert signalled.refusal is not None and signalled.refusal.kind == IGNORED
    assert signalled.refusal.message == "Workflow wf-1 is already TERMINATED"


def test_workflow_retry_count_on_the_step_overrides_the_task_definition() -> None:
    h = Harness(workflow(simple("a", retry_count=0, task_definition=task_def(retry_count=5))))
    h.fail("a")
    assert h.status is WorkflowStatus.FAILED
    assert len(h.attempts("a")) == 1


def test_a_failed_run_resolves_its_output_parameters() -> None:
    h = Harness(workflow(simple("a", task_definition=task_def(retry_count=0)), output_parameters={"x": "${a.status}"}))
    h.fail("a")
    assert h.run.output == {"x": "FAILED"}
