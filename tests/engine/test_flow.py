"""Control flow in the decider: forks and joins, dynamic forks, loops, dynamic tasks, and them nested."""

from __future__ import annotations

from typing import Any

from baton.model import TaskResultStatus, TaskStatus, WorkflowStatus, WorkflowTask
from tests.engine.decider_support import Harness, simple, system, task_def, workflow

COMPLETED = TaskStatus.COMPLETED


def fork(ref: str, *branches: list[WorkflowTask], **kw: Any) -> WorkflowTask:
    return system("FORK_JOIN", ref, fork_tasks=list(branches), **kw)


def join(ref: str, *on: str) -> WorkflowTask:
    return system("JOIN", ref, join_on=list(on))


def dynamic_fork(ref: str, tasks: Any, inputs: Any, **kw: Any) -> WorkflowTask:
    return system(
        "FORK_JOIN_DYNAMIC",
        ref,
        input_parameters={"dynamicTasks": tasks, "dynamicTasksInput": inputs},
        dynamic_fork_tasks_param="dynamicTasks",
        dynamic_fork_tasks_input_param_name="dynamicTasksInput",
        **kw,
    )


def loop(ref: str, condition: str | None, *body: WorkflowTask, **kw: Any) -> WorkflowTask:
    return system("DO_WHILE", ref, loop_condition=condition, loop_over=list(body), **kw)


def no_retries(name: str) -> Any:
    return task_def(name, retry_count=0)


# -- FORK_JOIN + JOIN ---------------------------------------------------------------


def two_branch_fork(**kw: Any) -> Any:
    return workflow(
        fork("f", [simple("a1"), simple("a2", input_parameters={"v": "${a1.output.v}"})], [simple("b1")]),
        join("j", "a2", "b1"),
        simple("after", input_parameters={"joined": "${j.output}"}),
        **kw,
    )


def test_a_fork_starts_its_branches_and_the_join_waits_for_every_joined_task() -> None:
    h = Harness(two_branch_fork())
    assert h.refs() == ["f", "a1", "b1", "j"]
    f, j = h.task("f"), h.task("j")
    assert f.task_type == "FORK" and f.status is COMPLETED
    assert j.task_type == "JOIN" and j.status is TaskStatus.IN_PROGRESS
    assert j.input_data["joinOn"] == ["a2", "b1"]

    h.complete("b1", {"b": 1})
    assert h.task("j").status is TaskStatus.IN_PROGRESS
    h.complete("a1", {"v": 7})
    assert h.task("a2").input_data == {"v": 7}
    assert h.task("j").status is TaskStatus.IN_PROGRESS, "a2 is still running"
    h.complete("a2", {"a": 2})
    assert h.task("j").status is COMPLETED
    assert h.task("j").output_data == {"a2": {"a": 2}, "b1": {"b": 1}}
    assert h.task("after").input_data == {"joined": {"a2": {"a": 2}, "b1": {"b": 1}}}
    h.complete("after")
    assert h.status is WorkflowStatus.COMPLETED


def test_an_empty_join_on_completes_at_once_and_the_run_waits_for_the_branches() -> None:
    h = Harness(workflow(fork("f", [simple("a")], [simple("b")]), join("j")))
    assert h.task("j").status is COMPLETED and h.task("j").output_data == {}
    assert h.status is WorkflowStatus.RUNNING
    h.complete("a")
    assert h.status is WorkflowStatus.RUNNING
    h.complete("b")
    assert h.status is WorkflowStatus.COMPLETED


def test_a_branch_that_fails_for_good_fails_the_run_and_cancels_the_others() -> None:
    h = Harness(
        workflow(
            fork("f", [simple("a", task_definition=no_retries("a_task"))], [simple("b")]),
            join("j", "a", "b"),
        )
    )
    h.fail("a", "disk full")
    assert h.status is WorkflowStatus.FAILED
    assert h.run.reason_for_incompletion == "disk full"
    assert h.task("b").status is TaskStatus.CANCELED and h.task("j").status is TaskStatus.CANCELED


def test_an_optional_branch_task_that_fails_lets_the_join_complete() -> None:
    h = Harness(
        workflow(
            fork("f", [simple("a", optional=True, task_definition=no_retries("a_task"))], [simple("b")]),
            join("j", "a", "b"),
        )
    )
    h.fail("a")
    assert h.task("a").status is TaskStatus.COMPLETED_WITH_ERRORS
    h.complete("b", {"ok": True})
    assert h.task("j").status is COMPLETED
    assert h.status is WorkflowStatus.COMPLETED


def test_a_join_does_not_wait_for_a_task_in_a_switch_case_not_taken() -> None:
    switch = system(
        "SWITCH",
        "s",
        evaluator_type="value-param",
        expression="k",
        input_parameters={"k": "no"},
        decision_cases={"yes": [simple("maybe")]},
        default_case=[simple("other")],
    )
    h = Harness(workflow(fork("f", [switch], [simple("b")]), join("j", "maybe", "b")))
    h.complete("other")
    assert h.task("j").status is TaskStatus.IN_PROGRESS
    h.complete("b", {"b": 1})
    assert h.task("j").status is COMPLETED and h.task("j").output_data == {"b": {"b": 1}}
    assert h.status is WorkflowStatus.COMPLETED


def test_a_retry_inside_a_branch_keeps_the_join_waiting() -> None:
    retrying = task_def("a_task", retry_count=1, retry_delay_seconds=0)
    h = Harness(workflow(fork("f", [simple("a", task_definition=retrying)], [simple("b")]), join("j", "a", "b")))
    h.complete("b")
    h.fail("a")
    assert len(h.attempts("a")) == 2 and h.task("j").status is TaskStatus.IN_PROGRESS
    h.complete("a", {"second": True})
    assert h.task("j").output_data["a"] == {"second": True}
    assert h.status is WorkflowStatus.COMPLETED


# -- EXCLUSIVE_JOIN -----------------------------------------------------------------


def test_an_exclusive_join_takes_the_output_of_the_case_that_ran() -> None:
    definition = workflow(
        system(
            "SWITCH",
            "route",
            evaluator_type="value-param",
            expression="k",
            input_parameters={"k": "${workflow.input.k}"},
            decision_cases={"a": [simple("ta")], "b": [simple("tb")]},
            default_case=[simple("td")],
        ),
        system("EXCLUSIVE_JOIN", "ej", join_on=["ta", "tb"], default_exclusive_join_task=["td"]),
    )
    for key, ref in (("a", "ta"), ("b", "tb"), ("zz", "td")):
        h = Harness(definition, {"k": key})
        assert "ej" not in h.refs(), "it waits for the case"
        h.complete(ref, {"from": ref})
        assert h.task("ej").status is COMPLETED and h.task("ej").output_data == {"from": ref}
        assert h.status is WorkflowStatus.COMPLETED


# -- FORK_JOIN_DYNAMIC ---------------------------------------------------------------


def dynamic_definition(**kw: Any) -> Any:
    return workflow(
        dynamic_fork("df", "${workflow.input.tasks}", "${workflow.input.inputs}", **kw),
        join("dj"),
        simple("after", input_parameters={"all": "${dj.output}"}),
    )


def worker_json(ref: str, name: str = "crunch") -> dict[str, Any]:
    return {"name": name, "taskReferenceName": ref, "type": "SIMPLE"}


def test_a_dynamic_fork_of_many_branches_joins_them_all() -> None:
    refs = [f"d{i}" for i in range(50)]
    h = Harness(
        dynamic_definition(),
        {"tasks": [worker_json(r) for r in refs], "inputs": {r: {"i": i} for i, r in enumerate(refs)}},
    )
    fork_task = h.task("df")
    assert fork_task.task_type == "FORK" and fork_task.status is COMPLETED
    assert fork_task.input_data["forkedTasks"] == refs
    assert h.task("dj").input_data["joinOn"] == refs
    assert [t.input_data for t in h.pending_worker_tasks()] == [{"i": i} for i in range(50)]
    assert {t.task_type for t in h.pending_worker_tasks()} == {"crunch"}
    for ref in reversed(refs):
        assert h.task("dj").status is TaskStatus.IN_PROGRESS
        d = h.complete(ref, {"r": ref})
        assert len(d.updated) <= 2, "a branch's result touches only that branch (and the join)"
    assert h.task("dj").status is COMPLETED
    assert h.task("dj").output_data == {r: {"r": r} for r in refs}
    assert h.task("after").input_data["all"] == {r: {"r": r} for r in refs}


def test_a_dynamic_fork_of_one_and_of_none() -> None:
    h = Harness(dynamic_definition(), {"tasks": [worker_json("only")], "inputs": {}})
    h.complete("only", {"x": 1})
    assert h.task("dj").output_data == {"only": {"x": 1}}
    empty = Harness(dynamic_definition(), {"tasks": [], "inputs": {}})
    assert empty.task("dj").status is COMPLETED and empty.task("dj").output_data == {}
    assert empty.refs() == ["df", "dj", "after"]


def test_the_same_task_form_names_branches_after_the_task() -> None:
    step = system(
        "FORK_JOIN_DYNAMIC",
        "df",
        input_parameters={"forkTaskName": "resize", "forkTaskInputs": "${workflow.input.images}"},
    )
    h = Harness(workflow(step, join("dj")), {"images": [{"url": "a"}, "b"]})
    assert h.refs() == ["df", "_resize_0", "_resize_1", "dj"]
    first, second = h.task("_resize_0"), h.task("_resize_1")
    assert first.task_type == "resize" and first.input_data == {"url": "a", "__index": 0}
    assert second.input_data == {"input": "b", "__index": 1}
    h.complete("_resize_0", {"w": 1})
    h.complete("_resize_1", {"w": 2})
    assert h.task("dj").output_data == {"_resize_0": {"w": 1}, "_resize_1": {"w": 2}}
    assert h.status is WorkflowStatus.COMPLETED


def test_bad_dynamic_input_fails_the_run_naming_the_parameter() -> None:
    h = Harness(dynamic_definition(), {"tasks": "nope", "inputs": {}})
    assert h.status is WorkflowStatus.FAILED
    assert "dynamicTasks" in (h.run.reason_for_incompletion or "")
    dup = Harness(dynamic_definition(), {"tasks": [worker_json("x"), worker_json("x")], "inputs": {}})
    assert dup.status is WorkflowStatus.FAILED and "'x'" in (dup.run.reason_for_incompletion or "")


def test_a_failing_dynamic_branch_fails_the_run_unless_the_fork_is_optional() -> None:
    tasks = [{**worker_json("a"), "taskDefinition": {"name": "crunch", "retryCount": 0}}, worker_json("b")]
    h = Harness(dynamic_definition(), {"tasks": tasks, "inputs": {}})
    h.fail("a")
    assert h.status is WorkflowStatus.FAILED
    soft = Harness(dynamic_definition(optional=True), {"tasks": tasks, "inputs": {}})
    soft.fail("a")
    soft.complete("b")
    assert soft.task("a").status is TaskStatus.COMPLETED_WITH_ERRORS
    assert soft.task("dj").status is COMPLETED


# -- DO_WHILE ------------------------------------------------------------------------


def test_a_loop_runs_its_body_until_the_condition_is_false() -> None:
    h = Harness(
        workflow(
            loop(
                "lp",
                "$.lp['iteration'] < $.times",
                simple("step", input_parameters={"i": "${lp.output.iteration}"}),
                input_parameters={"times": "${workflow.input.times}"},
            ),
            simple("after", input_parameters={"last": "${step.output.n}", "count": "${lp.output.iteration}"}),
        ),
        {"times": 3},
    )
    lp = h.task("lp")
    assert lp.task_type == "DO_WHILE" and lp.status is TaskStatus.IN_PROGRESS and lp.iteration == 1
    for i in (1, 2, 3):
        body = h.task(f"step__{i}")
        assert body.iteration == i and body.input_data == {"i": i}
        h.complete(f"step__{i}", {"n": i * 10})
    lp = h.task("lp")
    assert lp.status is COMPLETED
    assert lp.output_data == {
        "iteration": 3,
        "1": {"step": {"n": 10}},
        "2": {"step": {"n": 20}},
        "3": {"step": {"n": 30}},
    }
    assert h.task("after").input_data == {"last": 30, "count": 3}


def test_a_loop_condition_reads_the_body_outputs() -> None:
    h = Harness(workflow(loop("lp", "$.poll['done'] != true", simple("poll"))))
    h.complete("poll__1", {"done": False})
    h.complete("poll__2", {"done": True})
    assert h.task("lp").status is COMPLETED and h.task("lp").output_data["iteration"] == 2


def test_a_loop_over_items_exposes_each_item() -> None:
    body = simple("each", input_parameters={"item": "${lp.output.loopItem}", "at": "${lp.output.loopIndex}"})
    h = Harness(workflow(loop("lp", None, body, items="${workflow.input.list}")), {"list": ["x", "y"]})
    assert h.task("each__1").input_data == {"item": "x", "at": 0}
    h.complete("each__1")
    assert h.task("each__2").input_data == {"item": "y", "at": 1}
    h.complete("each__2")
    assert h.task("lp").status is COMPLETED and h.task("lp").output_data["iteration"] == 2
    empty = Harness(workflow(loop("lp", None, body, input_parameters={"items": []})))
    assert empty.status is WorkflowStatus.COMPLETED and empty.task("lp").output_data == {"iteration": 0}


def test_keep_last_n_removes_older_iterations() -> None:
    h = Harness(
        workflow(
            loop("lp", "$.lp['iteration'] < 5", simple("w"), input_parameters={"keepLastN": 2}),
        )
    )
    for i in range(1, 6):
        h.complete(f"w__{i}", {"i": i})
    assert h.status is WorkflowStatus.COMPLETED
    assert h.refs() == ["lp", "w__4", "w__5"]
    assert sorted(k for k in h.task("lp").output_data if k != "iteration") == ["4", "5"]


def test_inline_loops_finish_in_one_decision_and_runaway_ones_stop() -> None:
    counter = system("INLINE", "inc", input_parameters={"evaluatorType": "javascript", "expression": "$.i + 1", "i": 1})
    h = Harness(workflow(loop("lp", "$.lp['iteration'] < 4", counter)))
    assert h.status is WorkflowStatus.COMPLETED and h.refs() == ["lp", "inc__1", "inc__2", "inc__3", "inc__4"]
    # A generous script bound: what must stop this loop is the inline-step limit, however slow the machine.
    forever = Harness(workflow(loop("lp", "true", system("NOOP", "n"))), script_timeout_ms=30_000)
    assert forever.status is WorkflowStatus.FAILED
    assert "more than" in (forever.run.reason_for_incompletion or "")


def test_a_retry_inside_an_iteration_keeps_the_iteration() -> None:
    retrying = task_def("w_task", retry_count=2, retry_delay_seconds=0)
    h = Harness(workflow(loop("lp", "$.lp['iteration'] < 2", simple("w", task_definition=retrying))))
    h.complete("w__1")
    h.fail("w__2")
    attempts = h.attempts("w__2")
    assert len(attempts) == 2 and all(t.iteration == 2 for t in attempts)
    h.complete("w__2", {"ok": 1})
    assert h.task("lp").status is COMPLETED
    assert h.task("lp").output_data["2"] == {"w": {"ok": 1}}


def test_a_failure_in_an_iteration_fails_the_run_and_a_bad_condition_fails_the_loop() -> None:
    h = Harness(workflow(loop("lp", "true", simple("w", task_definition=no_retries("w_task")))))
    h.complete("w__1")
    h.fail("w__2", "broken")
    assert h.status is WorkflowStatus.FAILED and h.run.reason_for_incompletion == "broken"
    bad = Harness(workflow(loop("lp", "$.nothing.here", simple("w"))))
    bad.complete("w__1")
    assert bad.task("lp").status is TaskStatus.FAILED_WITH_TERMINAL_ERROR
    assert bad.status is WorkflowStatus.FAILED and "loopCondition" in (bad.run.reason_for_incompletion or "")


def test_a_human_task_in_a_loop_is_completed_by_its_plain_reference_name() -> None:
    h = Harness(workflow(loop("lp", "$.approve['again'] == true", system("HUMAN", "approve"))))
    h.signal("approve", TaskResultStatus.COMPLETED, {"again": True})
    assert h.task("approve__2").status is TaskStatus.IN_PROGRESS
    h.signal("approve__2", TaskResultStatus.COMPLETED, {"again": False})
    assert h.status is WorkflowStatus.COMPLETED


# -- nesting -------------------------------------------------------------------------


def test_a_fork_inside_a_loop_joins_each_iteration() -> None:
    body = [fork("f", [simple("a")], [simple("b")]), join("j", "a", "b")]
    h = Harness(workflow(loop("lp", "$.lp['iteration'] < 2", *body)))
    assert h.task("j__1").input_data["joinOn"] == ["a__1", "b__1"]
    h.complete("a__1", {"x": 1})
    h.complete("b__1")
    assert h.task("j__1").output_data == {"a__1": {"x": 1}, "b__1": {}}
    assert h.task("f__2").status is COMPLETED
    h.complete("b__2")
    h.complete("a__2")
    assert h.status is WorkflowStatus.COMPLETED
    assert h.task("lp").output_data["2"]["j"] == {"a__2": {}, "b__2": {}}


def test_a_loop_inside_a_fork_and_a_loop_inside_a_loop() -> None:
    inner = loop("inner", "$.inner['iteration'] < 2", simple("t"))
    outer = loop("outer", "$.outer['iteration'] < 2", inner)
    h = Harness(workflow(fork("f", [outer], [simple("side")]), join("j", "outer", "side")))
    assert h.task("inner__1").iteration == 1
    h.complete("t__1__1")
    h.complete("t__1__2")
    assert h.task("inner__1").status is COMPLETED
    h.complete("side")
    h.complete("t__2__1")
    assert h.task("j").status is TaskStatus.IN_PROGRESS
    h.complete("t__2__2", {"last": True})
    assert h.task("outer").status is COMPLETED and h.task("outer").output_data["iteration"] == 2
    assert h.status is WorkflowStatus.COMPLETED


def test_a_dynamic_fork_inside_a_loop_gets_iteration_suffixes() -> None:
    body = [dynamic_fork("df", "${workflow.input.tasks}", {}), join("dj")]
    h = Harness(workflow(loop("lp", "$.lp['iteration'] < 2", *body)), {"tasks": [worker_json("p")]})
    assert h.task("dj__1").input_data["joinOn"] == ["p__1"]
    h.complete("p__1")
    h.complete("p__2")
    assert h.status is WorkflowStatus.COMPLETED


# -- DYNAMIC -------------------------------------------------------------------------


def test_a_dynamic_task_runs_the_task_its_input_names() -> None:
    step = system(
        "DYNAMIC",
        "dyn",
        input_parameters={"taskToExecute": "${workflow.input.which}", "x": 1},
        dynamic_task_name_param="taskToExecute",
    )
    h = Harness(workflow(step), {"which": "send_sms"})
    task = h.task("dyn")
    assert task.task_type == "send_sms" and task.task_def_name == "send_sms" and task.is_worker_task
    h.complete("dyn", {"sent": True})
    assert h.status is WorkflowStatus.COMPLETED
    missing = Harness(workflow(step), {})
    assert missing.status is WorkflowStatus.FAILED
    assert "taskToExecute" in (missing.run.reason_for_incompletion or "")
