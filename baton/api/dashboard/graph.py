"""A run drawn as a graph: its definition's steps laid out top to bottom, each with the status of its task.

The layout is blocks nested as the definition nests them: a sequence stacks its steps; a fork or a switch puts
its branches side by side under it and joins them below (a switch's branches labelled with their case, the one
taken marked); a loop frames its body and says how many iterations ran; a sub-workflow step links to its child
run. Each block knows its width and height, then draws itself at a place it is given: nodes, edges, frames
and labels that the template writes as SVG. Nothing here reads the store: the route passes the definition and
the run's tasks (``run_graph``), or none (``definition_graph``: a definition alone, every step not run).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from baton.model import Task, Workflow, WorkflowDef, WorkflowTask
from baton.model.definitions import TaskType

NODE_WIDTH = 190
NODE_HEIGHT = 42
GAP_Y = 30
GAP_X = 26
LABEL_SPACE = 18
LOOP_PAD = 14
EMPTY_BRANCH_WIDTH = 70

_ITERATION_SUFFIX = re.compile(r"(?:__\d+)+$")
"""What a loop adds to its body's reference names, one ``__N`` a loop: ``fetch__2__1``."""
_FORKS = frozenset({TaskType.FORK_JOIN.value})
_SWITCHES = frozenset({TaskType.SWITCH.value, TaskType.DECISION.value})
_LOOPS = frozenset({TaskType.DO_WHILE.value})


@dataclass(frozen=True, slots=True)
class Node:
    x: float
    y: float
    ref: str
    label: str
    type: str
    status: str
    """The latest task's status, ``NOT_RUN`` for a step no task was scheduled for."""
    task_id: str
    note: str
    """Beside the type: a loop's iterations, a task's attempts."""
    link: str
    """A sub-workflow's child run id, else empty."""


@dataclass(frozen=True, slots=True)
class Edge:
    """Down from (x1, y1) to ``bend``, across to x2, down to (x2, y2)."""

    x1: float
    y1: float
    x2: float
    y2: float
    taken: bool
    bend: float | None = None
    """Where the edge runs across; halfway down when not given."""

    @property
    def across(self) -> float:
        return self.y1 + (self.y2 - self.y1) / 2 if self.bend is None else self.bend


@dataclass(frozen=True, slots=True)
class Frame:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Label:
    x: float
    y: float
    text: str
    taken: bool


@dataclass(slots=True)
class Graph:
    width: float = 0
    height: float = 0
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    frames: list[Frame] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    node_width: int = NODE_WIDTH
    node_height: int = NODE_HEIGHT


Point = tuple[float, float]


class Block(Protocol):
    width: float
    height: float

    def draw(self, left: float, top: float, graph: Graph) -> tuple[Point, Point]:
        """Draws the block with its top-left corner at (left, top); returns its entry and exit points."""


class _Step:
    def __init__(self, step: WorkflowTask, task: Task | None, note: str = "") -> None:
        self.width: float = NODE_WIDTH
        self.height: float = NODE_HEIGHT
        self._step = step
        self._task = task
        self._note = note

    @property
    def ran(self) -> bool:
        return self._task is not None

    def draw(self, left: float, top: float, graph: Graph) -> tuple[Point, Point]:
        task = self._task
        note = self._note
        if task is not None and task.retry_count and not note:
            note = f"attempt {task.retry_count + 1}"
        graph.nodes.append(
            Node(
                x=left,
                y=top,
                ref=self._step.task_reference_name,
                label=self._step.name or self._step.task_reference_name,
                type=self._step.type,
                status="NOT_RUN" if task is None else task.status.value,
                task_id="" if task is None else task.task_id,
                note=note,
                link=(task.sub_workflow_id or "") if task is not None else "",
            )
        )
        middle = left + NODE_WIDTH / 2
        return (middle, top), (middle, top + NODE_HEIGHT)


class _Sequence:
    def __init__(self, blocks: Sequence[Block]) -> None:
        self._blocks = list(blocks)
        self.width: float = max((b.width for b in self._blocks), default=EMPTY_BRANCH_WIDTH)
        self.height: float = sum(b.height for b in self._blocks) + GAP_Y * max(len(self._blocks) - 1, 0)

    def draw(self, left: float, top: float, graph: Graph) -> tuple[Point, Point]:
        middle = left + self.width / 2
        if not self._blocks:
            return (middle, top), (middle, top)
        entry: Point | None = None
        previous: Point | None = None
        y = top
        for block in self._blocks:
            block_entry, block_exit = block.draw(middle - block.width / 2, y, graph)
            if previous is not None:
                graph.edges.append(Edge(*previous, *block_entry, taken=True))
            entry = entry or block_entry
            previous = block_exit
            y += block.height + GAP_Y
        assert entry is not None and previous is not None
        return entry, previous


@dataclass(frozen=True, slots=True)
class _Branch:
    label: str
    body: _Sequence
    taken: bool


class _Branches:
    """A fork's or a switch's step above its branches, side by side, which meet again below them."""

    def __init__(self, head: _Step, branches: list[_Branch]) -> None:
        self._head = head
        self._branches = branches
        spread = sum(b.body.width for b in branches) + GAP_X * max(len(branches) - 1, 0)
        self.width: float = max(NODE_WIDTH, spread)
        tallest = max((b.body.height for b in branches), default=0)
        self.height: float = NODE_HEIGHT + GAP_Y + LABEL_SPACE + tallest + GAP_Y

    def draw(self, left: float, top: float, graph: Graph) -> tuple[Point, Point]:
        middle = left + self.width / 2
        entry, head_exit = self._head.draw(middle - NODE_WIDTH / 2, top, graph)
        meet = (middle, top + self.height)
        spread = sum(b.body.width for b in self._branches) + GAP_X * max(len(self._branches) - 1, 0)
        x = middle - spread / 2
        branch_top = top + NODE_HEIGHT + GAP_Y + LABEL_SPACE
        for branch in self._branches:
            body_entry, body_exit = branch.body.draw(x, branch_top, graph)
            graph.edges.append(Edge(*head_exit, *body_entry, taken=branch.taken))
            # Across just above the meeting point, below the tallest branch, never through a longer one's steps.
            graph.edges.append(Edge(*body_exit, *meet, taken=branch.taken, bend=meet[1] - GAP_Y / 2))
            if branch.label:
                graph.labels.append(Label(body_entry[0], branch_top - 6, branch.label, branch.taken))
            x += branch.body.width + GAP_X
        if not self._branches:
            graph.edges.append(Edge(*head_exit, *meet, taken=True))
        return entry, meet


class _Loop:
    """A DO_WHILE step with its body inside a frame."""

    def __init__(self, head: _Step, body: _Sequence) -> None:
        self._head = head
        self._body = body
        self.width: float = max(NODE_WIDTH, body.width) + 2 * LOOP_PAD
        self.height: float = NODE_HEIGHT + GAP_Y + body.height + LOOP_PAD

    def draw(self, left: float, top: float, graph: Graph) -> tuple[Point, Point]:
        graph.frames.append(Frame(left, top, self.width, self.height))
        middle = left + self.width / 2
        entry, head_exit = self._head.draw(middle - NODE_WIDTH / 2, top, graph)
        body_entry, _ = self._body.draw(middle - self._body.width / 2, top + NODE_HEIGHT + GAP_Y, graph)
        if self._body.height:
            graph.edges.append(Edge(*head_exit, *body_entry, taken=True))
        return entry, (middle, top + self.height)


class _Builder:
    def __init__(self, tasks: Sequence[Task]) -> None:
        self._latest: dict[str, Task] = {}
        self._latest_iteration: dict[str, Task] = {}
        for task in sorted(tasks, key=lambda t: t.seq):
            self._latest[task.reference_task_name] = task
            self._latest_iteration[_ITERATION_SUFFIX.sub("", task.reference_task_name)] = task

    def task(self, ref: str) -> Task | None:
        """The latest task of a step; inside a loop, that of the latest iteration (``ref__N``)."""
        return self._latest.get(ref) or self._latest_iteration.get(ref)

    def sequence(self, steps: Sequence[WorkflowTask]) -> _Sequence:
        return _Sequence([self.block(step) for step in steps])

    def block(self, step: WorkflowTask) -> Block:
        task = self.task(step.task_reference_name)
        if step.type in _FORKS:
            branches = [_Branch("", self.sequence(branch), True) for branch in step.fork_tasks]
            return _Branches(_Step(step, task), branches)
        if step.type in _SWITCHES:
            chosen = _chosen_case(task)
            cases = [_Branch(case, self.sequence(steps), case == chosen) for case, steps in step.decision_cases.items()]
            took_a_case = any(branch.taken for branch in cases)
            default_taken = task is not None and chosen is not None and not took_a_case
            cases.append(_Branch("default", self.sequence(step.default_case), default_taken))
            return _Branches(_Step(step, task), cases)
        if step.type in _LOOPS:
            iterations = task.iteration if task is not None else 0
            note = f"{iterations} iteration{'s' if iterations != 1 else ''}" if task is not None else ""
            return _Loop(_Step(step, task, note), self.sequence(step.loop_over))
        return _Step(step, task)


def _chosen_case(task: Task | None) -> str | None:
    if task is None:
        return None
    for key in ("evaluationResult", "caseOutput"):
        found = task.output_data.get(key)
        if isinstance(found, list) and found and isinstance(found[0], str):
            return found[0]
    case = task.input_data.get("case")
    return case if isinstance(case, str) else None


def run_graph(definition: WorkflowDef, run: Workflow) -> Graph:
    """The definition's steps laid out, each with the status of the run's latest task for it."""
    return _laid_out(definition, run.tasks)


def definition_graph(definition: WorkflowDef) -> Graph:
    """The definition's steps laid out as no run has taken them: every step ``NOT_RUN``, every branch drawn."""
    return _laid_out(definition, [])


def _laid_out(definition: WorkflowDef, tasks: Sequence[Task]) -> Graph:
    graph = Graph()
    top = _Builder(tasks).sequence(definition.tasks)
    margin = 12
    top.draw(margin, margin + 4, graph)
    graph.width = top.width + 2 * margin
    graph.height = top.height + 2 * margin + 8
    return graph
