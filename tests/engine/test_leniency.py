"""What the decider does with definitions Conductor accepts and Baton used to refuse, and with enforced schemas.

A fork without a JOIN, task types Baton does not run, an embedded task definition without a
name; a worker task's input and output against its task definition's schemas.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import msgspec
import pytest

from baton.engine import TaskResultReceived, apply
from baton.engine.decision import TooLargeForTheLoop
from baton.model import SchemaDef, TaskResult, TaskResultStatus, TaskStatus, WorkflowDef, WorkflowStatus
from baton.model.schemas import ON_LOOP_STEPS
from baton.model.validation import validate_workflow_def
from tests.engine.decider_support import Harness, simple, system, task_def, workflow

COMPLETED = TaskStatus.COMPLETED


def test_a_fork_without_a_join_runs_its_branches_and_the_next_steps_at_once() -> None:
    h = Harness(workflow(system("FORK_JOIN", "f", fork_tasks=[[simple("a")], [simple("b")]]), simple("after")))
    assert h.refs() == ["f", "a", "b", "after"]
    h.complete("after")
    h.complete("a")
    assert h.status is WorkflowStatus.RUNNING  # the run ends when every task has
    h.complete("b")
    assert h.status is WorkflowStatus.COMPLETED


def test_a_trailing_fork_without_a_join_ends_the_run_when_its_branches_do() -> None:
    h = Harness(
        workflow(simple("first"), system("FORK_JOIN", "f", fork_tasks=[[simple("a"), simple("a2")], [simple("b")]]))
    )
    h.complete("first")
    assert h.refs() == ["first", "f", "a", "b"]
    h.complete("b")
    h.complete("a")
    assert h.status is WorkflowStatus.RUNNING and h.task("a2").status is TaskStatus.SCHEDULED
    h.complete("a2")
    assert h.status is WorkflowStatus.COMPLETED


@pytest.mark.parametrize("kind", ["LLM_CHAT_COMPLETE", "KAFKA_PUBLISH", "LAMBDA"])
def test_a_task_type_baton_does_not_run_fails_for_good_when_reached(kind: str) -> None:
    step = system(kind, "unsupported", task_definition=task_def(kind, retry_count=3))
    h = Harness(workflow(simple("first"), step))
    h.complete("first")
    task = h.task("unsupported")
    assert task.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert task.reason_for_incompletion == f"Task type {kind} is not supported by Baton"
    assert len(h.attempts("unsupported")) == 1  # no retry, whatever the task definition says
    assert h.status is WorkflowStatus.FAILED
    assert h.run.reason_for_incompletion == f"Task type {kind} is not supported by Baton"


def test_an_optional_unsupported_task_lets_the_run_go_on() -> None:
    h = Harness(workflow(system("KAFKA_PUBLISH", "publish", optional=True), simple("after")))
    assert h.task("publish").status is TaskStatus.COMPLETED_WITH_ERRORS
    h.complete("after")
    assert h.status is WorkflowStatus.COMPLETED


def test_an_embedded_task_definition_without_a_name_takes_its_steps() -> None:
    raw = {
        "name": "flow",
        "tasks": [{"name": "charge", "taskReferenceName": "c", "taskDefinition": {"retryCount": 0}}],
    }
    definition = msgspec.json.decode(msgspec.json.encode(raw), type=WorkflowDef)
    validate_workflow_def(definition)
    step_def = definition.tasks[0].task_definition
    assert step_def is not None and step_def.name == "charge"
    h = Harness(definition)
    h.fail("c")
    assert h.status is WorkflowStatus.FAILED  # its retryCount (0) is the one used


AMOUNT: dict[str, Any] = {"type": "object", "properties": {"amount": {"type": "number"}}, "required": ["amount"]}


def checked(**schemas: Any) -> Any:
    return task_def("pay", enforce_schema=True, retry_count=1, retry_delay_seconds=0, **schemas)


def test_an_output_breaking_the_schema_fails_the_attempt_and_the_retry_may_pass() -> None:
    h = Harness(workflow(simple("pay", task_definition=checked(output_schema=SchemaDef(data=AMOUNT)))))
    h.complete("pay", {"amount": "ten"})
    first = h.attempts("pay")[0]
    assert first.status is TaskStatus.FAILED
    assert first.reason_for_incompletion == "outputSchema: output.amount: 'ten' is not of type 'number'"
    assert first.output_data == {"amount": "ten"}
    h.complete("pay", {"amount": 10})
    assert h.status is WorkflowStatus.COMPLETED


def test_an_input_breaking_the_schema_fails_the_step_for_good_when_scheduled() -> None:
    step = simple(
        "pay",
        input_parameters={"amount": "${workflow.input.amount}"},
        task_definition=checked(input_schema=SchemaDef(data=AMOUNT)),
    )
    h = Harness(workflow(step), {"amount": "ten"})
    task = h.task("pay")
    assert task.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR and task.visible_at == 0
    assert task.reason_for_incompletion == "inputSchema: input.amount: 'ten' is not of type 'number'"
    assert h.status is WorkflowStatus.FAILED
    assert Harness(workflow(step), {"amount": 10}).task("pay").status is TaskStatus.SCHEDULED


def test_schemas_are_ignored_without_enforce_schema() -> None:
    lax = task_def("pay", input_schema=SchemaDef(data=AMOUNT), output_schema=SchemaDef(data=AMOUNT))
    h = Harness(workflow(simple("pay", task_definition=lax)))
    h.complete("pay", {"amount": "ten"})
    assert h.status is WorkflowStatus.COMPLETED


def test_a_check_too_long_for_the_loop_asks_to_be_made_off_it() -> None:
    rows = {"type": "array", "items": {"type": "integer"}}
    schema = SchemaDef(data={"type": "object", "properties": {"rows": rows}})
    h = Harness(workflow(simple("pay", task_definition=checked(output_schema=schema))))
    big = {"rows": list(range(ON_LOOP_STEPS))}
    on_loop = replace(h.ctx(), loop_budget=500)
    result = TaskResult(task_id=h.task("pay").task_id, status=TaskResultStatus.COMPLETED, output_data=big)
    with pytest.raises(TooLargeForTheLoop):
        apply(h.definition, h.run, TaskResultReceived(result=result), on_loop)
    h.complete("pay", big)  # off the loop (no budget): checked in full
    assert h.status is WorkflowStatus.COMPLETED
