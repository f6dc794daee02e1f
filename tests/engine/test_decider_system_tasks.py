"""The decider's system tasks through ``start`` and ``apply``: inline tasks, SWITCH, WAIT and HUMAN."""

from __future__ import annotations

from typing import Any

from baton.model import TaskResultStatus, TaskStatus, WorkflowStatus
from tests.engine.decider_support import T0, Harness, assert_rearmed, simple, system, workflow

COMPLETED = TaskStatus.COMPLETED

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
    late = h.signal("approve")  # its step already ended: ignored, as Conductor does
    assert late.refusal is not None and late.refusal.kind == "ignored"
    assert late.refusal.task is not None and late.refusal.task.reference_task_name == "approve"
    missing = h.signal("nowhere")
    assert missing.refusal is not None and missing.refusal.kind == "not_found"
