"""The run graph's layout (``api/dashboard/graph.py``), on definitions nested every way: no two steps overlap,
every step lies inside the drawing, and each step is drawn once with its latest task's status."""

from __future__ import annotations

from itertools import combinations

import msgspec

from baton.api.dashboard.graph import Graph, definition_graph, run_graph
from baton.model import Task, Workflow, WorkflowDef, WorkflowTask
from baton.model.runs import TaskStatus


def _step(ref: str, kind: str = "SIMPLE", **extra: object) -> WorkflowTask:
    return msgspec.convert({"name": ref, "taskReferenceName": ref, "type": kind, **extra}, WorkflowTask)


def _nested() -> WorkflowDef:
    fork = _step("fork", "FORK_JOIN", forkTasks=[[{"name": "a", "taskReferenceName": "a"}], []])
    switch = _step(
        "switch",
        "SWITCH",
        decisionCases={"x": [msgspec.to_builtins(fork), {"name": "j", "taskReferenceName": "j", "type": "JOIN"}]},
        defaultCase=[{"name": "d", "taskReferenceName": "d"}],
    )
    loop = _step("loop", "DO_WHILE", loopOver=[msgspec.to_builtins(switch), {"name": "b", "taskReferenceName": "b"}])
    return WorkflowDef(name="nested", tasks=[_step("first"), loop, _step("last", "SUB_WORKFLOW")])


def _task(ref: str, seq: int, status: TaskStatus, **extra: object) -> Task:
    return Task(
        task_id=f"t{seq}",
        task_type="SIMPLE",
        reference_task_name=ref,
        workflow_instance_id="r",
        workflow_type="nested",
        seq=seq,
        status=status,
        **extra,  # type: ignore[arg-type]
    )


def _overlap(graph: Graph) -> list[tuple[str, str]]:
    width, height = graph.node_width, graph.node_height
    return [
        (one.ref, two.ref)
        for one, two in combinations(graph.nodes, 2)
        if one.x < two.x + width and two.x < one.x + width and one.y < two.y + height and two.y < one.y + height
    ]


def test_nested_steps_are_drawn_once_apart_and_inside_the_drawing() -> None:
    tasks = [
        _task("first", 1, TaskStatus.COMPLETED),
        _task("loop", 2, TaskStatus.IN_PROGRESS, iteration=2),
        _task("switch__1", 3, TaskStatus.COMPLETED, output_data={"evaluationResult": ["x"]}),
        _task("b__1", 4, TaskStatus.FAILED),
        _task("b__2", 5, TaskStatus.COMPLETED),
    ]
    run = Workflow(workflow_id="r", workflow_name="nested", workflow_version=1, tasks=tasks)
    graph = run_graph(_nested(), run)

    assert sorted(node.ref for node in graph.nodes) == sorted(
        ["first", "loop", "switch", "fork", "a", "j", "d", "b", "last"]
    )
    assert _overlap(graph) == []
    for node in graph.nodes:
        assert node.x >= 0 and node.x + graph.node_width <= graph.width
        assert node.y >= 0 and node.y + graph.node_height <= graph.height
    status = {node.ref: node.status for node in graph.nodes}
    assert status["b"] == "COMPLETED", "the latest iteration's task"
    assert status["first"] == "COMPLETED" and status["a"] == "NOT_RUN" and status["last"] == "NOT_RUN"
    assert next(node.note for node in graph.nodes if node.ref == "loop") == "2 iterations"
    assert {(label.text, label.taken) for label in graph.labels} == {("x", True), ("default", False)}
    assert len(graph.frames) == 1
    frame = graph.frames[0]
    inside = [n.ref for n in graph.nodes if frame.x <= n.x and n.x + graph.node_width <= frame.x + frame.width]
    assert set(inside) >= {"loop", "switch", "fork", "a", "j", "d", "b"}


def _crossings(graph: Graph) -> list[tuple[str, float]]:
    """The steps an edge's run across passes through: (the step, the height it crosses at)."""
    width, height = graph.node_width, graph.node_height
    found = []
    for edge in graph.edges:
        low, high = sorted((edge.x1, edge.x2))
        for node in graph.nodes:
            if node.y < edge.across < node.y + height and low < node.x + width and node.x < high:
                found.append((node.ref, edge.across))
    return found


def test_a_short_branch_meets_the_join_below_a_longer_one_not_through_it() -> None:
    long_branch = [{"name": ref, "taskReferenceName": ref} for ref in ("l1", "l2", "l3")]
    fork = _step("fork", "FORK_JOIN", forkTasks=[[{"name": "s1", "taskReferenceName": "s1"}], long_branch, []])
    definition = WorkflowDef(name="uneven", tasks=[fork, _step("join", "JOIN"), _step("after")])
    for graph in (
        definition_graph(definition),
        definition_graph(_nested()),
    ):
        assert _crossings(graph) == []
