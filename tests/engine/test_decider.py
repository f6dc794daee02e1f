"""The decider through ``start`` and ``apply``: Conductor's semantics, one scenario at a time."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from baton.engine import DecideContext, TaskResultReceived, TimerFired, apply, start
from baton.model import (
    RetryLogic,
    TaskResult,
    TaskResultStatus,
    TaskStatus,
    Workflow,
    WorkflowStatus,
)
from tests.engine.decider_support import T0, Harness, assert_rearmed, simple, system, task_def, workflow

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


# -- inline system tasks -------------------------------------------------------


def test_inline_tasks_run_inside_the_decision() -> None:
    h = Harness(
        workflow(
            system(
                "INLINE",
                "double",
                input_parameters={"evaluatorType": "javascript", "expression": "$.n * 2", "n": "${workflow.input.n}"},
            ),
            system(
                "INLINE",
                "pick",
                input_parameters={"evaluatorType": "value-param", "expression": "v", "v": "${double.output.result}"},
            ),
            system("NOOP", "noop"),
            system(
                "JSON_JQ_TRANSFORM",
                "jq",
                input_parameters={"queryExpression": ".v + 1", "v": "${pick.output.result}"},
            ),
        ),
        {"n": 21},
    )
    assert h.status is WorkflowStatus.COMPLETED
    assert h.task("double").output_data == {"result": 42}
    assert h.task("pick").output_data == {"result": 42}
    assert h.task("noop").status is COMPLETED
    assert h.task("jq").output_data == {"result": 43, "resultList": [43]}
    assert h.run.output == {"result": 43, "resultList": [43]}
    assert all(t.status is COMPLETED for t in h.run.tasks)
    assert h.last.updated == []  # created and completed here: only in created, in their final state
    assert [t.task_type for t in h.last.created] == ["INLINE", "INLINE", "NOOP", "JSON_JQ_TRANSFORM"]


def test_a_script_error_fails_the_task_and_the_run() -> None:
    h = Harness(
        workflow(
            system("INLINE", "bad", input_parameters={"evaluatorType": "javascript", "expression": "nope.x"}),
            simple("never"),
        )
    )
    assert h.task("bad").status is TaskStatus.FAILED
    assert h.task("bad").reason_for_incompletion == "ReferenceError: nope is not defined"
    assert h.status is WorkflowStatus.FAILED
    assert h.run.reason_for_incompletion == "ReferenceError: nope is not defined"
    assert h.run.failed_reference_task_names == ["bad"]
    assert h.run.failed_task_names == ["bad"]
    assert "never" not in h.refs()


def test_a_jq_error_fails_the_task() -> None:
    h = Harness(workflow(system("JSON_JQ_TRANSFORM", "jq", input_parameters={"queryExpression": ".a["})))
    assert h.task("jq").status is TaskStatus.FAILED
    assert h.task("jq").output_data["error"].startswith("invalid jq query")
    assert h.status is WorkflowStatus.FAILED


def test_set_variable_merges_into_the_run_variables() -> None:
    h = Harness(
        workflow(
            system("SET_VARIABLE", "set", input_parameters={"count": "${workflow.input.n}", "name": "x"}),
            simple("use", input_parameters={"count": "${workflow.variables.count}"}),
        ),
        {"n": 7},
        variables={"keep": True, "name": "old"},
    )
    assert h.run.variables == {"keep": True, "name": "x", "count": 7}
    assert h.task("use").input_data == {"count": 7}


# -- switch --------------------------------------------------------------------


def switch_flow(**switch: Any) -> Any:
    return workflow(
        simple("before"),
        system(
            "SWITCH",
            "route",
            input_parameters={"kind": "${before.output.kind}", "n": "${before.output.n}"},
            decision_cases={
                "fast": [simple("fast1"), simple("fast2")],
                "true": [simple("yes")],
                "empty": [],
            },
            default_case=[simple("fallback")],
            **switch,
        ),
        simple("after"),
    )


def test_switch_value_param() -> None:
    h = Harness(switch_flow(evaluator_type="value-param", expression="kind"))
    h.complete("before", {"kind": "fast"})
    route = h.task("route")
    assert route.status is COMPLETED and route.task_type == "SWITCH"
    assert route.output_data == {"evaluationResult": ["fast"]}
    assert h.refs() == ["before", "route", "fast1"]
    h.complete("fast1")
    h.complete("fast2")
    assert h.refs()[-1] == "after"
    h.complete("after", {"end": 1})
    assert h.status is WorkflowStatus.COMPLETED
    assert h.refs() == ["before", "route", "fast1", "fast2", "after"]


def test_switch_javascript_with_a_boolean_result() -> None:
    h = Harness(switch_flow(evaluator_type="javascript", expression="$.n > 10"))
    h.complete("before", {"n": 11})
    assert h.task("route").output_data == {"evaluationResult": ["true"]}
    assert h.refs()[-1] == "yes"


def test_switch_default_case_and_empty_case() -> None:
    h = Harness(switch_flow(evaluator_type="value-param", expression="kind"))
    h.complete("before", {"kind": "unknown"})
    assert h.refs()[-1] == "fallback"
    h2 = Harness(switch_flow(evaluator_type="value-param", expression="kind"))
    h2.complete("before", {"kind": "empty"})  # an empty case takes the default, as in Conductor
    assert h2.refs()[-1] == "fallback"


def test_switch_case_of_system_tasks_runs_through_to_the_next_step() -> None:
    h = Harness(
        workflow(
            system(
                "SWITCH",
                "s",
                evaluator_type="value-param",
                expression="k",
                input_parameters={"k": "${workflow.input.k}"},
                decision_cases={
                    "a": [
                        system("NOOP", "n1"),
                        system(
                            "SWITCH",
                            "inner",
                            evaluator_type="value-param",
                            expression="z",
                            input_parameters={"z": 1},
                            decision_cases={"1": [system("NOOP", "n2")]},
                        ),
                    ]
                },
            ),
            simple("after"),
        ),
        {"k": "a"},
    )
    assert h.refs() == ["s", "n1", "inner", "n2", "after"]
    assert h.task("inner").output_data == {"evaluationResult": ["1"]}


def test_legacy_decision_with_case_value_param() -> None:
    h = Harness(
        workflow(
            system(
                "DECISION",
                "d",
                case_value_param="k",
                input_parameters={"k": "${workflow.input.k}"},
                decision_cases={"x": [simple("x")]},
            )
        ),
        {"k": "x"},
    )
    assert h.task("d").output_data == {"caseOutput": ["x"]}
    assert h.refs() == ["d", "x"]


def test_switch_script_error_fails_the_run() -> None:
    h = Harness(workflow(system("SWITCH", "s", evaluator_type="javascript", expression="(", default_case=[])))
    assert h.task("s").status is TaskStatus.FAILED
    assert h.status is WorkflowStatus.FAILED


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


# -- wait and human ------------------------------------------------------------


def test_wait_with_duration_completes_on_its_timer() -> None:
    h = Harness(workflow(system("WAIT", "pause", input_parameters={"duration": "1m 30s"}), simple("after")))
    wait = h.task("pause")
    assert wait.status is TaskStatus.IN_PROGRESS
    assert wait.visible_at == T0 + 90_000
    h.advance(1_000)
    assert_rearmed(h.fire("pause"), wait)
    h.advance(89_000)
    d = h.fire("pause")
    assert d.refusal is None
    assert h.task("pause").status is COMPLETED
    assert h.refs() == ["pause", "after"]


def test_wait_until_and_past_until() -> None:
    h = Harness(workflow(system("WAIT", "w", input_parameters={"until": "2100-01-01 00:00 UTC"})))
    assert h.task("w").visible_at == 4102444800000
    past = Harness(workflow(system("WAIT", "w", input_parameters={"until": "2000-01-01"}), simple("next")))
    assert past.task("w").status is COMPLETED
    assert past.refs() == ["w", "next"]


def test_wait_with_a_bad_duration_fails_with_a_reason() -> None:
    h = Harness(workflow(system("WAIT", "w", input_parameters={"duration": "5 parsecs"})))
    assert h.task("w").status is TaskStatus.FAILED
    assert "invalid WAIT duration '5 parsecs'" in (h.task("w").reason_for_incompletion or "")
    assert h.status is WorkflowStatus.FAILED


def test_wait_without_time_and_human_wait_for_a_signal() -> None:
    h = Harness(workflow(system("WAIT", "w"), system("HUMAN", "approve"), simple("after")))
    assert h.task("w").status is TaskStatus.IN_PROGRESS and h.task("w").visible_at == 0
    h.signal("w")
    assert h.task("approve").status is TaskStatus.IN_PROGRESS
    h.signal("approve", TaskResultStatus.IN_PROGRESS, {"seen": 1})
    assert h.task("approve").status is TaskStatus.IN_PROGRESS
    h.report("approve", TaskResultStatus.COMPLETED, {"ok": True})
    assert h.task("approve").output_data == {"ok": True}
    assert h.refs()[-1] == "after"
    missing = h.signal("approve")
    assert missing.refusal is not None and missing.refusal.kind == "not_found"


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

    # the late result of the first lease is refused, never applied
    late = h.report(first, TaskResultStatus.COMPLETED, {"late": True})
    assert late.refusal is not None
    assert late.refusal.kind == "conflict"
    assert late.refusal.message == f"Task {first.task_id} is already TIMED_OUT"

    # the retry times out too: no retries left, and the run times out (Conductor's mapping)
    h.advance(5_000)
    second = h.claim("a")
    h.advance(30_000)
    h.fire(second)
    assert h.status is WorkflowStatus.TIMED_OUT
    assert h.run.reason_for_incompletion == "responseTimeoutSeconds (30 s) elapsed without an update"


def test_a_result_after_the_lease_ran_out_is_refused_before_the_timer() -> None:
    h = Harness(workflow(simple("a", task_definition=task_def(response_timeout_seconds=10))))
    task = h.claim("a")
    h.advance(10_000)
    d = h.report(task, TaskResultStatus.COMPLETED)
    assert d.refusal is not None and d.refusal.kind == "conflict"
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


def test_results_are_refused_for_unknown_and_finished_tasks() -> None:
    h = Harness(workflow(simple("a"), simple("b")))
    unknown = h.apply(TaskResultReceived(result=TaskResult(task_id="nope", status=TaskResultStatus.COMPLETED)))
    assert unknown.refusal is not None and unknown.refusal.kind == "not_found"
    first = h.task("a")
    h.complete("a")
    again = h.report(first, TaskResultStatus.FAILED)
    assert again.refusal is not None
    assert again.refusal.message == f"Task {first.task_id} is already COMPLETED"
    h.terminate()
    after = h.report("b", TaskResultStatus.COMPLETED)
    assert after.refusal is not None and after.refusal.kind == "conflict"
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
    for decision in (h.fire(wait), h.signal("w")):
        assert decision.refusal is not None
        assert decision.refusal.message == "Workflow wf-1 is TERMINATED"


def test_workflow_retry_count_on_the_step_overrides_the_task_definition() -> None:
    h = Harness(workflow(simple("a", retry_count=0, task_definition=task_def(retry_count=5))))
    h.fail("a")
    assert h.status is WorkflowStatus.FAILED
    assert len(h.attempts("a")) == 1


def test_a_failed_run_resolves_its_output_parameters() -> None:
    h = Harness(workflow(simple("a", task_definition=task_def(retry_count=0)), output_parameters={"x": "${a.status}"}))
    h.fail("a")
    assert h.run.output == {"x": "FAILED"}
