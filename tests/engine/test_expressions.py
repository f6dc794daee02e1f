"""Conductor input resolution: ``${...}`` expressions over a run's document."""

from __future__ import annotations

from typing import Any

import pytest

from baton.engine.expressions import document_for, parse_path, resolve
from baton.model import Task, TaskStatus, Workflow

DOC: dict[str, Any] = {
    "workflow": {
        "input": {"n": 5, "name": "ada", "flag": True, "nothing": None, "items": [10, 20, 30]},
        "variables": {"count": 2},
        "workflowId": "wf-1",
        "correlationId": "corr",
        "status": "RUNNING",
        "priority": 3,
    },
    "fetch": {
        "output": {"a": {"b": [{"c": "deep"}, 2]}, "odd key": 1, "dotted.key": 7},
        "input": {"x": 1},
        "status": "COMPLETED",
        "taskId": "task-9",
    },
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("${workflow.input.n}", 5),
        ("${workflow.input.flag}", True),
        ("${workflow.input.items}", [10, 20, 30]),
        ("${workflow.input.items[1]}", 20),
        ("${workflow.input.items[-1]}", 30),
        ("${workflow.input.items.length()}", 3),
        ("${workflow.variables.count}", 2),
        ("${workflow.workflowId}", "wf-1"),
        ("${workflow.correlationId}", "corr"),
        ("${workflow.status}", "RUNNING"),
        ("${workflow.priority}", 3),
        ("${fetch.output.a.b[0].c}", "deep"),
        ("${fetch.output['odd key']}", 1),
        ('${fetch.output["dotted.key"]}', 7),
        ("${fetch.output}", DOC["fetch"]["output"]),
        ("${fetch.input.x}", 1),
        ("${fetch.status}", "COMPLETED"),
        ("${fetch.taskId}", "task-9"),
        ("${$.fetch.taskId}", "task-9"),
    ],
)
def test_a_whole_expression_keeps_the_type(expression: str, expected: Any) -> None:
    assert resolve(expression, DOC) == expected


@pytest.mark.parametrize(
    "expression",
    [
        "${workflow.input.missing}",
        "${workflow.input.missing.deeper[3]}",
        "${workflow.input.items[7]}",
        "${workflow.input.n.x}",
        "${nobody.output.x}",
        "${workflow.input.items[*]}",
        "${workflow..input}",
        "${workflow.input.}",
        "${workflow.input.nothing}",
        "${fetch.output.a.b[0].c[0]}",
    ],
)
def test_missing_or_unreadable_paths_are_none(expression: str) -> None:
    assert resolve(expression, DOC) is None


def test_interpolation_follows_conductor() -> None:
    assert resolve("hi ${workflow.input.name}!", DOC) == "hi ada!"
    assert resolve("n=${workflow.input.n}, f=${workflow.input.flag}", DOC) == "n=5, f=true"
    # null and missing values become the empty string, as in Conductor's ParametersUtils
    assert resolve("[${workflow.input.nothing}][${workflow.input.missing}]", DOC) == "[][]"
    # maps and lists are written as JSON
    assert resolve("items: ${workflow.input.items}", DOC) == "items: [10,20,30]"
    assert resolve("${fetch.output.a.b[1]}${workflow.input.n}", DOC) == "25"


def test_escapes_and_blanks() -> None:
    assert resolve("$${workflow.input.n}", DOC) == "${workflow.input.n}"
    assert resolve("cost: $${price} for ${workflow.input.name}", DOC) == "cost: ${price} for ada"
    assert resolve("${}", DOC) == ""
    assert resolve("a ${ } b", DOC) == "a  b"
    assert resolve("no expressions here", DOC) == "no expressions here"
    assert resolve("unclosed ${workflow.input.n", DOC) == "unclosed ${workflow.input.n"
    assert resolve("$5 and {braces}", DOC) == "$5 and {braces}"


def test_nested_structures_resolve_recursively_and_leave_other_values() -> None:
    value = {
        "a": "${workflow.input.n}",
        "b": ["${workflow.input.name}", {"c": "${fetch.output.a.b[1]}"}, 4, None],
        "d": 1.5,
        "e": False,
    }
    assert resolve(value, DOC) == {"a": 5, "b": ["ada", {"c": 2}, 4, None], "d": 1.5, "e": False}


def test_parse_path() -> None:
    assert parse_path("a.b[0]['c d'].length()")[:4] == ("a", "b", 0, "c d")
    assert parse_path("a[x]") == ()
    assert parse_path("a[0") == ()


def _task(ref: str, seq: int, retry: int, status: TaskStatus, output: dict[str, Any]) -> Task:
    return Task(
        task_id=f"{ref}-{seq}",
        task_type="t",
        reference_task_name=ref,
        workflow_instance_id="wf",
        workflow_type="w",
        seq=seq,
        retry_count=retry,
        status=status,
        output_data=output,
    )


def test_document_for_a_run_reads_the_latest_attempt() -> None:
    run = Workflow(
        workflow_id="wf",
        workflow_name="w",
        workflow_version=2,
        input={"k": "v"},
        correlation_id="c",
        tasks=[
            _task("a", 1, 0, TaskStatus.FAILED, {"try": 0}),
            _task("a", 2, 1, TaskStatus.COMPLETED, {"try": 1}),
            _task("b", 3, 0, TaskStatus.SCHEDULED, {}),
        ],
    )
    doc = document_for(run)
    assert resolve("${a.output.try}", doc) == 1
    assert resolve("${a.taskId}", doc) == "a-2"
    assert resolve("${a.status}", doc) == "COMPLETED"
    assert resolve("${b.status}", doc) == "SCHEDULED"
    assert resolve("${workflow.input.k}-${workflow.version}", doc) == "v-2"
    assert resolve("${workflow.workflowType}", doc) == "w"
    assert resolve("${c.output}", doc) is None
