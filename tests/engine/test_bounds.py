"""The decider's bounds (fork width, loop iterations, the event loop's budget) and its evaluator seam."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from baton.engine import DecideContext, Decision, start
from baton.engine.decision import TooLargeForTheLoop
from baton.engine.evaluations import EvaluationNeeded, InProcess, Memo, Request, Result, not_on_the_loop
from baton.engine.identity_memo import IdentityMemo
from baton.engine.scripts import ScriptResult
from baton.model import TaskStatus, Workflow, WorkflowDef, WorkflowStatus
from tests.engine.decider_support import T0, system, workflow


def _ctx(**kw: Any) -> DecideContext:
    counter = itertools.count(1)
    return DecideContext(now=T0, new_id=lambda: f"id-{next(counter)}", **kw)


def _start(definition: WorkflowDef, workflow_input: dict[str, Any] | None = None, **kw: Any) -> Decision:
    run = Workflow(workflow_id="wf-1", workflow_name=definition.name, workflow_version=1, input=workflow_input or {})
    return start(definition, run, _ctx(**kw))


def _dynamic_fork(width: int) -> WorkflowDef:
    fork = system(
        "FORK_JOIN_DYNAMIC",
        "fan",
        dynamic_fork_tasks_param="tasks",
        dynamic_fork_tasks_input_param_name="inputs",
        input_parameters={"tasks": "${workflow.input.tasks}", "inputs": "${workflow.input.inputs}"},
    )
    return workflow(fork, system("JOIN", "join"))


def _branches(width: int) -> dict[str, Any]:
    return {
        "tasks": [{"name": "work", "taskReferenceName": f"b{i}", "type": "SIMPLE"} for i in range(width)],
        "inputs": {f"b{i}": {"i": i} for i in range(width)},
    }


def test_a_dynamic_fork_wider_than_the_bound_fails_its_fork_task_naming_the_bound() -> None:
    decision = _start(_dynamic_fork(6), _branches(6), max_fork_width=5)
    assert decision.workflow.status is WorkflowStatus.FAILED
    fork = next(task for task in decision.workflow.tasks if task.reference_task_name == "fan")
    assert fork.status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert fork.reason_for_incompletion == "FORK_JOIN_DYNAMIC 'fan' has 6 branches, more than max_fork_width (5)"
    assert [task.reference_task_name for task in decision.created if task.reference_task_name.startswith("b")] == []


def test_a_dynamic_fork_at_the_bound_runs_every_branch() -> None:
    decision = _start(_dynamic_fork(5), _branches(5), max_fork_width=5)
    assert decision.workflow.status is WorkflowStatus.RUNNING
    assert sorted(t.reference_task_name for t in decision.created if t.task_type == "work") == [
        f"b{i}" for i in range(5)
    ]


def test_a_loop_past_its_iteration_bound_fails_naming_it() -> None:
    loop = system("DO_WHILE", "loop", loop_condition="true", loop_over=[system("NOOP", "tick")])
    decision = _start(workflow(loop), max_loop_iterations=7)
    assert decision.workflow.status is WorkflowStatus.FAILED
    ended = next(task for task in decision.workflow.tasks if task.reference_task_name == "loop")
    assert ended.reason_for_incompletion == "DO_WHILE 'loop' exceeded max_loop_iterations (7)"
    assert ended.iteration == 7


def test_a_runaway_decision_names_the_steps_bound() -> None:
    decision = _start(workflow(*[system("NOOP", f"n{i}") for i in range(12)]), max_steps_per_decision=10)
    assert decision.workflow.status is WorkflowStatus.FAILED
    assert "more than 10 tasks" in (decision.workflow.reason_for_incompletion or "")
    assert "max_steps_per_decision" in (decision.workflow.reason_for_incompletion or "")


def test_a_decision_over_the_loop_budget_stops_so_it_can_be_made_elsewhere() -> None:
    definition = workflow(*[system("NOOP", f"n{i}") for i in range(20)])
    with pytest.raises(TooLargeForTheLoop):
        _start(definition, loop_budget=10)
    assert _start(definition, loop_budget=100).workflow.status is WorkflowStatus.COMPLETED


def _scripted() -> WorkflowDef:
    calc = system(
        "INLINE",
        "calc",
        input_parameters={"evaluatorType": "javascript", "expression": "$.x * 2", "x": "${workflow.input.x}"},
    )
    route = system(
        "SWITCH",
        "route",
        evaluator_type="javascript",
        expression="$.v > 5 ? 'big' : 'small'",
        input_parameters={"v": "${calc.output.result}"},
        decision_cases={"big": [system("NOOP", "big")], "small": [system("NOOP", "small")]},
    )
    return workflow(calc, route)


def test_an_evaluation_missing_from_the_memo_stops_the_decision_and_a_filled_memo_replays_it() -> None:
    definition = _scripted()
    memo = Memo(not_on_the_loop)
    with pytest.raises(EvaluationNeeded) as needed:
        _start(definition, {"x": 4}, evaluator=memo)
    assert needed.value.request == Request(
        kind="javascript", source="$.x * 2", input_json=needed.value.request.input_json
    )

    asked: list[Request] = []

    def evaluate(request: Request) -> Result:
        asked.append(request)
        return InProcess().evaluate(request)

    filling = Memo(evaluate)
    filling.results = memo.results
    made_off_loop = _start(definition, {"x": 4}, evaluator=filling)
    assert [request.source for request in asked] == ["$.x * 2", "$.v > 5 ? 'big' : 'small'"]
    replayed = _start(definition, {"x": 4}, evaluator=memo)
    assert replayed.workflow.status is made_off_loop.workflow.status is WorkflowStatus.COMPLETED
    assert [t.reference_task_name for t in replayed.workflow.tasks] == ["calc", "route", "big"]
    assert replayed.workflow.tasks[0].output_data == {"result": 8}


def test_a_bound_an_evaluation_hit_names_the_task() -> None:
    def timed_out(request: Request) -> Result:
        return ScriptResult(error="exceeded 1000 ms", limit=True)

    decision = _start(_scripted(), {"x": 4}, evaluator=Memo(timed_out))
    assert decision.workflow.status is WorkflowStatus.FAILED
    assert decision.workflow.tasks[0].reason_for_incompletion == "INLINE 'calc' exceeded 1000 ms"


def test_the_identity_memo_is_bounded_by_weight_and_count_and_knows_its_keys_by_identity() -> None:
    memo: IdentityMemo[list[int]] = IdentityMemo(max_entries=3, max_weight=10, weigh=len)
    keys = [object() for _ in range(5)]
    memo.put(keys[0], [0] * 6)
    memo.put(keys[1], [1] * 3)
    assert memo.get(keys[0]) == [0] * 6
    memo.put(keys[2], [2] * 4)  # weight 13: the least recently used (keys[1]) goes
    assert memo.get(keys[1]) is None and memo.get(keys[0]) is not None and memo.get(keys[2]) is not None
    memo.put(keys[3], [3])
    memo.put(keys[4], [4])  # four entries: the oldest goes
    assert memo.get(keys[0]) is None
    assert memo.put(object(), [9] * 11) == [9] * 11  # heavier than the whole memo: given back, not kept
    assert [memo.get(key) for key in keys[2:]] == [[2] * 4, [3], [4]]
    assert memo.get(object()) is None
