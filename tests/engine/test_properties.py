"""Property tests: random workflows of sequences, switches, forks, dynamic forks and loops, nested in each
other, driven to the end by a simulated worker.

Whatever the shape and whatever the workers do (complete, fail, fail for good,
go silent until the lease runs out, ask to be called back), the run ends; each
(reference name, retry count, iteration) is created once; nothing is created
once the run has ended; a JOIN never completes while a task it joins on is
pending or still to come; and the same inputs always give the same decision.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from baton.engine import Decision
from baton.model import (
    RetryLogic,
    Task,
    TaskResultStatus,
    TaskStatus,
    TaskType,
    WorkflowDef,
    WorkflowStatus,
    WorkflowTask,
)
from tests.engine.decider_support import Harness, task_def
from tests.helpers import examples

MAX_ACTIONS = 400

# -- shapes ----------------------------------------------------------------------

Shape = tuple[Any, ...]

worker_shape = st.tuples(
    st.just("worker"),
    st.integers(0, 2),  # retry count
    st.integers(0, 3),  # retry delay seconds
    st.sampled_from(list(RetryLogic)),
    st.integers(1, 20),  # response timeout seconds
    st.booleans(),  # optional
)
leaf_shape = st.one_of(
    worker_shape,
    st.tuples(st.sampled_from(["noop", "set_variable", "inline", "jq", "wait_duration", "wait_signal", "human"])),
    st.tuples(st.just("terminate"), st.sampled_from(["COMPLETED", "FAILED", "TERMINATED"])),
)


leaf_shape = st.one_of(leaf_shape, st.tuples(st.just("dynamic_fork"), st.integers(0, 3), st.booleans()))


def _extend(children: st.SearchStrategy[list[Shape]]) -> st.SearchStrategy[Shape]:
    non_empty = children.filter(bool)
    return st.one_of(
        st.tuples(
            st.just("switch"),
            st.booleans(),  # javascript or value-param
            st.dictionaries(st.sampled_from(["a", "b", "c"]), children, max_size=3),
            children,
        ),
        st.tuples(
            st.just("fork"),
            st.lists(non_empty, min_size=1, max_size=3),
            st.sampled_from(["all", "first", "none"]),  # what the JOIN joins on
        ),
        st.tuples(st.just("loop"), st.integers(1, 3), non_empty),  # iterations, body
    )


step_shape = st.recursive(leaf_shape, lambda inner: _extend(st.lists(inner, max_size=3)), max_leaves=8)
flow_shape = st.lists(step_shape, min_size=1, max_size=5)


def build(shapes: list[Shape]) -> WorkflowDef:
    counter = itertools.count(1)

    def steps(items: list[Shape]) -> list[WorkflowTask]:
        return [task for item in items for task in step(item)]

    def step(shape: Shape) -> list[WorkflowTask]:
        ref = f"s{next(counter)}"
        kind = shape[0]
        if kind == "fork":
            _, branch_shapes, mode = shape
            branches = [steps(items) for items in branch_shapes]
            lasts = [branch[-1].task_reference_name for branch in branches]
            join_on = {"all": lasts, "first": lasts[:1], "none": []}[mode]
            return [
                WorkflowTask(name=ref, task_reference_name=ref, type=TaskType.FORK_JOIN.value, fork_tasks=branches),
                WorkflowTask(name=f"{ref}_join", task_reference_name=f"{ref}_join", type="JOIN", join_on=join_on),
            ]
        if kind == "loop":
            _, times, body = shape
            return [
                WorkflowTask(
                    name=ref,
                    task_reference_name=ref,
                    type=TaskType.DO_WHILE.value,
                    loop_condition=f"$.{ref}['iteration'] < {times}",
                    loop_over=steps(body),
                )
            ]
        if kind == "dynamic_fork":
            _, count, optional = shape
            tasks = [
                {
                    "name": f"dyn_{ref}",
                    "taskReferenceName": f"{ref}_d{i}",
                    "taskDefinition": {"name": f"dyn_{ref}", "retryCount": i % 2, "retryDelaySeconds": 1},
                }
                for i in range(count)
            ]
            return [
                WorkflowTask(
                    name=ref,
                    task_reference_name=ref,
                    type=TaskType.FORK_JOIN_DYNAMIC.value,
                    optional=optional,
                    input_parameters={"tasks": tasks, "inputs": {t["taskReferenceName"]: {"k": 1} for t in tasks}},
                    dynamic_fork_tasks_param="tasks",
                    dynamic_fork_tasks_input_param_name="inputs",
                ),
                WorkflowTask(name=f"{ref}_join", task_reference_name=f"{ref}_join", type="JOIN"),
            ]
        return [leaf(ref, shape)]

    def leaf(ref: str, shape: Shape) -> WorkflowTask:
        kind = shape[0]
        if kind == "worker":
            _, retries, delay, logic, timeout, optional = shape
            return WorkflowTask(
                name=f"work_{ref}",
                task_reference_name=ref,
                optional=optional,
                input_parameters={"k": "${workflow.input.k}", "prev": "${workflow.variables.last}"},
                task_definition=task_def(
                    f"work_{ref}",
                    retry_count=retries,
                    retry_delay_seconds=delay,
                    retry_logic=logic,
                    response_timeout_seconds=timeout,
                ),
            )
        if kind == "switch":
            _, javascript, cases, default = shape
            return WorkflowTask(
                name=ref,
                task_reference_name=ref,
                type=TaskType.SWITCH.value,
                evaluator_type="javascript" if javascript else "value-param",
                expression="$.k" if javascript else "k",
                input_parameters={"k": "${workflow.input.k}"},
                decision_cases={key: steps(items) for key, items in cases.items()},
                default_case=steps(default),
            )
        system_inputs: dict[str, dict[str, Any]] = {
            "noop": {},
            "set_variable": {"last": ref},
            "inline": {"evaluatorType": "value-param", "expression": "k", "k": "${workflow.input.k}"},
            "jq": {"queryExpression": ".k", "k": "${workflow.input.k}"},
            "wait_duration": {"duration": "2s"},
            "wait_signal": {},
            "human": {},
            "terminate": {"terminationStatus": shape[-1], "workflowOutput": {"by": ref}},
        }
        system_types = {
            "noop": TaskType.NOOP,
            "set_variable": TaskType.SET_VARIABLE,
            "inline": TaskType.INLINE,
            "jq": TaskType.JSON_JQ_TRANSFORM,
            "wait_duration": TaskType.WAIT,
            "wait_signal": TaskType.WAIT,
            "human": TaskType.HUMAN,
            "terminate": TaskType.TERMINATE,
        }
        return WorkflowTask(
            name=ref,
            task_reference_name=ref,
            type=system_types[kind].value,
            input_parameters=system_inputs[kind],
        )

    return WorkflowDef(name="random", tasks=steps(shapes))


# -- invariants ------------------------------------------------------------------


_CONTROL = frozenset({TaskType.JOIN.value, TaskType.DO_WHILE.value})
"""Pending tasks that wait on other tasks: nothing from outside acts on them."""


def check_joins(h: Harness, joined_early: dict[str, set[str]]) -> None:
    """A completed JOIN's tasks ended successfully, or never run at all (they were in a case not taken)."""
    latest = {t.reference_task_name: t for t in sorted(h.run.tasks, key=lambda t: t.seq)}
    for join in h.run.tasks:
        if join.task_type != TaskType.JOIN.value or join.status is not TaskStatus.COMPLETED:
            continue
        absent = joined_early.setdefault(join.task_id, set())
        for ref in join.input_data["joinOn"]:
            task = latest.get(ref)
            if task is None:
                absent.add(ref)
                continue
            assert ref not in absent, f"JOIN {join.reference_task_name} completed before {ref} was scheduled"
            assert task.status.is_successful, f"JOIN {join.reference_task_name} completed but {ref} is {task.status}"


def check(h: Harness, decision: Decision, was_terminal: bool) -> None:
    attempts = [(t.reference_task_name, t.retry_count, t.iteration) for t in h.run.tasks]
    assert len(attempts) == len(set(attempts)), "an attempt was created twice"
    if was_terminal:
        assert decision.refusal is not None, "a finished run accepted an event"
    if decision.refusal is None and decision.workflow.status.is_terminal:
        pending = [t for t in h.run.tasks if not t.status.is_terminal]
        assert pending == [], f"the run ended with pending tasks: {pending}"
        assert h.run.end_time == h.now
    # at most one pending attempt per reference name
    pending_refs = [t.reference_task_name for t in h.run.tasks if not t.status.is_terminal]
    assert len(pending_refs) == len(set(pending_refs))


def act(h: Harness, task: Task, choice: int, callbacks: dict[str, int]) -> Decision:
    """One move of the simulated world on a pending task."""
    if task.is_worker_task:
        if task.status is TaskStatus.SCHEDULED:
            if task.visible_at > h.now:
                h.advance(task.visible_at - h.now)
            task = h.claim(task.reference_task_name)
        outcome = choice % 6
        if outcome == 0 and task.lease_expires_at:
            h.advance(task.lease_expires_at - h.now)
            return h.fire(task)
        if outcome == 1 and callbacks.get(task.task_id, 0) < 2:
            callbacks[task.task_id] = callbacks.get(task.task_id, 0) + 1
            return h.report(task, TaskResultStatus.IN_PROGRESS, {"partial": choice}, callback_after_seconds=1)
        if outcome == 2:
            return h.report(task, TaskResultStatus.FAILED, reason_for_incompletion="flaky")
        if outcome == 3:
            return h.report(task, TaskResultStatus.FAILED_WITH_TERMINAL_ERROR, reason_for_incompletion="fatal")
        return h.report(task, TaskResultStatus.COMPLETED, {"done": task.reference_task_name})
    if task.visible_at:  # a WAIT with a time, or a system task's delayed retry
        if task.visible_at > h.now:
            h.advance(task.visible_at - h.now)
        return h.fire(task)
    status = TaskResultStatus.FAILED if choice % 5 == 4 else TaskResultStatus.COMPLETED
    return h.signal(task.reference_task_name, status, {"signalled": True})


@settings(
    max_examples=examples(150),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(shapes=flow_shape, k=st.sampled_from(["a", "b", "c", "z"]), data=st.data())
def test_random_runs_always_end_cleanly(shapes: list[Shape], k: str, data: st.DataObject) -> None:
    definition = build(shapes)
    h = Harness(definition, {"k": k}, check_determinism=True)
    check(h, h.last, was_terminal=False)
    callbacks: dict[str, int] = {}
    joined_early: dict[str, set[str]] = {}
    for _ in range(MAX_ACTIONS):
        if h.status.is_terminal:
            break
        pending = [t for t in h.run.tasks if not t.status.is_terminal and t.task_type not in _CONTROL]
        assert pending, "a running run with nothing pending is stuck"
        task = pending[data.draw(st.integers(0, len(pending) - 1), label="task")]
        decision = act(h, task, data.draw(st.integers(0, 29), label="choice"), callbacks)
        assert decision.refusal is None, decision.refusal
        check(h, decision, was_terminal=False)
        check_joins(h, joined_early)
    assert h.status.is_terminal, "the run did not end"
    event(f"ended {h.status.value}")
    event(f"{min(len(h.run.tasks) // 5 * 5, 20)}+ tasks")
    assert h.status in (
        WorkflowStatus.COMPLETED,
        WorkflowStatus.FAILED,
        WorkflowStatus.TIMED_OUT,
        WorkflowStatus.TERMINATED,
    )

    # once ended, every event is refused and nothing is created
    count = len(h.run.tasks)
    for task in h.run.tasks:
        for decision in (
            h.report(task, TaskResultStatus.COMPLETED),
            h.fire(task),
        ):
            check(h, decision, was_terminal=True)
    check(h, h.terminate("late"), was_terminal=True)
    assert len(h.run.tasks) == count
