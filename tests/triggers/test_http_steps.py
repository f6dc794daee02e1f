"""Route templates, and HTTP_ENDPOINT and HTTP_RESPONSE in the decider: which response answers which request."""

from __future__ import annotations

from typing import Any

import pytest

from baton.engine import DecideContext, HttpRequestReceived, start
from baton.engine.http_steps import waited_since
from baton.model import TaskStatus, Workflow, WorkflowStatus, WorkflowTask
from baton.model.http_endpoints import RouteTemplate, parse_template
from tests.engine.decider_support import T0, Harness, simple, system, workflow


def template(path: str) -> RouteTemplate:
    parsed = parse_template(path)
    assert isinstance(parsed, RouteTemplate), parsed
    return parsed


def test_templates_match_literals_without_case_and_give_parameters_as_sent() -> None:
    assert template("/Orders/{orderId}/").match(["orders", "A-7"]) == {"orderId": "A-7"}
    assert template("orders/{id}").match(["orders"]) is None
    assert template("orders/{id}").match(["orders", "1", "x"]) is None
    assert template("files/{*rest}").match(["files", "a", "b"]) == {"rest": "a/b"}
    assert template("files/{*rest}").match(["files"]) == {"rest": ""}
    ranked = sorted(["orders/{id}", "orders/new", "{*all}"], key=lambda p: template(p).specificity, reverse=True)
    assert ranked == ["orders/new", "orders/{id}", "{*all}"]


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("", "must name a path"),
        ("a//b", "empty segment"),
        ("{id}/{ID}", "twice"),
        ("{*rest}/x", "must be the last"),
        ("a{b", "must be a literal"),
        ("a?b=1", "must be a literal"),
    ],
)
def test_bad_templates_say_what_is_wrong(path: str, problem: str) -> None:
    parsed = parse_template(path)
    assert isinstance(parsed, str) and problem in parsed


def endpoint(ref: str, path: str = "hook", **inputs: Any) -> WorkflowTask:
    return system("HTTP_ENDPOINT", ref, input_parameters={"path": path, **inputs})


def respond(ref: str, **inputs: Any) -> WorkflowTask:
    return system("HTTP_RESPONSE", ref, input_parameters={"body": "hi", **inputs})


def request(exchange_id: str = "x-1", respond_by: int = T0 + 30_000) -> dict[str, Any]:
    return {"body": {"n": 1}, "method": "POST", "exchange": {"id": exchange_id, "respondBy": respond_by}}


def arrive(h: Harness, ref: str, exchange_id: str = "x-1", respond_by: int = T0 + 30_000) -> None:
    decision = h.apply(HttpRequestReceived(task_id=h.task(ref).task_id, request=request(exchange_id, respond_by)))
    assert decision.refusal is None, decision.refusal


def test_a_triggered_start_completes_its_first_step_with_the_request_and_answers_it() -> None:
    definition = workflow(endpoint("hook", canStartWorkflow=True), respond("reply", statusCode="201"))
    header = Workflow(workflow_id="wf-1", workflow_name="flow", workflow_version=1)
    ids = iter(f"t-{n}" for n in range(10))
    decision = start(definition, header, DecideContext(now=T0, new_id=lambda: next(ids), http_request=request()))
    hook, reply = decision.created
    assert hook.status is TaskStatus.COMPLETED
    assert hook.output_data == {**request(), "exchange": {"id": "x-1", "respondBy": T0 + 30_000, "afterSeq": 1}}
    assert reply.output_data == {"statusCode": 201, "headers": {}, "body": "hi", "contentType": None, "exchange": "x-1"}
    assert decision.workflow.status is WorkflowStatus.COMPLETED and not decision.logs


def test_an_endpoint_blocks_until_a_request_and_then_its_response_answers_it() -> None:
    h = Harness(workflow(endpoint("wait"), respond("reply")))
    assert h.task("wait").status is TaskStatus.IN_PROGRESS and h.status is WorkflowStatus.RUNNING
    arrive(h, "wait")
    assert h.task("wait").output_data["exchange"]["afterSeq"] == 1
    assert h.task("reply").output_data["exchange"] == "x-1"
    again = h.apply(HttpRequestReceived(task_id=h.task("wait").task_id, request=request("x-2")))
    assert again.refusal is not None and "already COMPLETED" in again.refusal.message


def test_a_response_made_beside_a_waiting_step_in_the_same_decision_answers() -> None:
    fork = system("FORK_JOIN", "fork", fork_tasks=[[simple("work")], [respond("reply")]])
    h = Harness(workflow(endpoint("wait"), fork))
    arrive(h, "wait")
    assert h.task("reply").output_data["exchange"] == "x-1"
    assert h.task("work").status is TaskStatus.SCHEDULED


def test_a_response_after_the_run_waited_is_a_logged_no_op() -> None:
    h = Harness(workflow(endpoint("wait"), simple("work"), respond("reply")))
    arrive(h, "wait")
    waited = waited_since(h.run.tasks, h.task("wait").output_data["exchange"]["afterSeq"])
    assert waited is not None and waited.reference_task_name == "work"
    h.advance(5)
    decision = h.complete("work")
    assert h.task("reply").output_data["exchange"] is None
    [line] = decision.logs
    assert line.task_id == h.task("reply").task_id
    assert "waited at 'work'" in line.log


def test_a_response_after_the_callers_timeout_or_a_second_one_is_not_sent() -> None:
    fork = system("FORK_JOIN", "fork", fork_tasks=[[respond("first")], [respond("second")]])
    h = Harness(workflow(endpoint("wait"), fork))
    arrive(h, "wait")
    assert h.task("first").output_data["exchange"] == "x-1"
    assert h.task("second").output_data["exchange"] is None
    assert "already answered by 'first'" in h.last.logs[0].log

    late = Harness(workflow(endpoint("wait"), system("HTTP", "call"), respond("reply")))
    arrive(late, "wait", respond_by=T0 + 1000)
    late.advance(2000)
    late.complete("call")
    assert late.task("reply").output_data["exchange"] is None
    assert "timed out" in late.last.logs[0].log


def test_a_wait_that_never_waited_does_not_count() -> None:
    h = Harness(workflow(endpoint("wait"), system("WAIT", "pause", input_parameters={"duration": "0s"}), respond("r")))
    arrive(h, "wait")
    assert h.task("r").output_data["exchange"] == "x-1"


def test_a_bad_status_or_header_fails_the_response() -> None:
    h = Harness(workflow(respond("reply", statusCode="${workflow.input.code}")), {"code": 42})
    assert h.task("reply").status is TaskStatus.FAILED and h.status is WorkflowStatus.FAILED
    h = Harness(workflow(respond("reply", headers="${workflow.input.h}")), {"h": {"X": "a\nb"}})
    assert "line breaks" in (h.task("reply").reason_for_incompletion or "")
