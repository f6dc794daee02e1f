"""FORK_JOIN, FORK_JOIN_DYNAMIC, JOIN and EXCLUSIVE_JOIN: branches, dynamic expansion and join rules.

A fork step makes one ``FORK`` task (COMPLETED at once, as Conductor's), then
its branches run side by side; the JOIN after it is IN_PROGRESS from the start
and completes when every reference in its ``joinOn`` input ended successfully,
with ``{ref: output}`` as its output. For a dynamic fork the JOIN's ``joinOn``
is every branch the fork made, whatever the JOIN's definition lists.

Where Conductor leaves room, Baton chooses:

* A JOIN also completes once every branch of its fork is done, even when a
  ``joinOn`` reference never ran (it sat in a SWITCH case not taken); Conductor
  would wait forever. Such references are absent from its output.
* A dynamic fork keeps, in its FORK task's input, ``forkedTasks`` (the branch
  reference names) and ``forkedTaskDefs`` (each branch's step, with its input
  from ``dynamicForkTasksInputParamName`` merged into ``inputParameters``), in
  place of the two input parameters it read them from.
* Invalid dynamic input (not a list, a task that is not a WorkflowTask, a
  duplicate reference name, inputs that are not a map) fails the fork task, and
  so the run, with a reason that names the parameter.
* The ``forkTaskName`` form makes branches ``_<name>_<i>`` of type
  ``forkTaskType`` (SIMPLE by default) whose input is the i-th entry of
  ``forkTaskInputs`` (a map, or ``{"input": value}``) plus ``__index``, as
  Conductor does; ``forkTaskWorkflow`` is not supported yet.
* Dynamic branches get their ``taskDefinition`` only if the task JSON carries
  one; otherwise Conductor's defaults (the decider does no I/O to look
  registered ones up).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from baton.engine.decision import TooLargeForTheLoop
from baton.engine.identity_memo import IdentityMemo
from baton.model import Task, TaskStatus, TaskType, WorkflowDef, WorkflowTask
from baton.model.validation import name_problem

FORKED_TASKS: Final = "forkedTasks"
FORKED_TASK_DEFS: Final = "forkedTaskDefs"
JOIN_ON: Final = "joinOn"

_FORK_NAME_KEYS: Final = ("forkTaskName", "forkTaskType")
_MEMO_SIZE: Final = 256
_MEMO_REFS: Final = 100_000
_MEMO_BRANCHES: Final = 50_000
"""Branches the memo keeps in all: a 20,000-branch fork's take tens of megabytes."""


@dataclass(frozen=True, slots=True)
class Branches:
    """A fork's branches and, by base reference name, which branch holds each step."""

    lists: list[list[WorkflowTask]]
    owner: dict[str, int]


_branch_memo: IdentityMemo[Branches] = IdentityMemo(
    max_entries=_MEMO_SIZE, max_weight=_MEMO_BRANCHES, weigh=lambda branches: len(branches.lists) + 1
)
"""Branches by what they were built from: a fork step, or a dynamic fork task's input."""


def subtree_refs(steps: list[WorkflowTask]) -> list[str]:
    """The reference names of these steps and of every step nested in them."""
    refs: list[str] = []
    for step in steps:
        refs.append(step.task_reference_name)
        for child in step.children():
            refs.extend(subtree_refs(child))
    return refs


def _branches(lists: list[list[WorkflowTask]]) -> Branches:
    owner: dict[str, int] = {}
    for index, steps in enumerate(lists):
        if len(steps) == 1 and not steps[0].children():
            owner[steps[0].task_reference_name] = index
            continue
        for ref in subtree_refs(steps):
            owner[ref] = index
    return Branches(lists=lists, owner=owner)


def static_branches(step: WorkflowTask) -> Branches:
    found = _branch_memo.get(step)
    return found if found is not None else _branch_memo.put(step, _branches(step.fork_tasks))


_task_list_type = list[WorkflowTask]
_CONVERT_SLICE: Final = 500
"""Branches converted per call: one call holds the GIL throughout, and a decision thread must let the event
loop run every few milliseconds (20,000 branches in one call held it for ~100 ms)."""


def _steps_of(raws: Any) -> list[WorkflowTask]:
    """Branch steps from their JSON; raises msgspec.ValidationError as one ``convert`` would."""
    if not isinstance(raws, list) or len(raws) <= _CONVERT_SLICE:
        return msgspec.convert(raws, _task_list_type)
    steps: list[WorkflowTask] = []
    try:
        for start in range(0, len(raws), _CONVERT_SLICE):
            steps.extend(msgspec.convert(raws[start : start + _CONVERT_SLICE], _task_list_type))
    except msgspec.ValidationError:
        return msgspec.convert(raws, _task_list_type)  # raises again, naming the branch's index in the whole list
    return steps


def dynamic_branches(fork: Task) -> Branches:
    """The branches a dynamic fork task made (from its ``forkedTaskDefs``)."""
    found = _branch_memo.get(fork.input_data)
    if found is not None:
        return found
    steps = _steps_of(fork.input_data.get(FORKED_TASK_DEFS) or [])
    return _branch_memo.put(fork.input_data, _branches([[s] for s in steps]))


_definition_refs: IdentityMemo[frozenset[str]] = IdentityMemo(max_entries=_MEMO_SIZE, max_weight=_MEMO_REFS, weigh=len)


def definition_refs(definition: WorkflowDef) -> frozenset[str]:
    """Every reference name a definition holds, nested ones included (memoised by identity)."""
    found = _definition_refs.get(definition)
    if found is not None:
        return found
    return _definition_refs.put(definition, frozenset(step.task_reference_name for step in definition.all_tasks()))


_dynamic_fork_refs: IdentityMemo[tuple[str, ...]] = IdentityMemo(max_entries=_MEMO_SIZE, max_weight=_MEMO_SIZE)


def dynamic_fork_refs(definition: WorkflowDef) -> tuple[str, ...]:
    """The reference names of a definition's FORK_JOIN_DYNAMIC steps (memoised by identity)."""
    found = _dynamic_fork_refs.get(definition)
    if found is not None:
        return found
    refs = tuple(
        step.task_reference_name for step in definition.all_tasks() if step.type == TaskType.FORK_JOIN_DYNAMIC.value
    )
    return _dynamic_fork_refs.put(definition, refs)


def owning_branches(branches: Branches, refs: set[str]) -> set[int]:
    """The branches holding any of these (base) reference names."""
    owner = branches.owner
    return {owner[ref] for ref in refs if ref in owner}


# -- dynamic expansion -------------------------------------------------------------


def expand(
    step: WorkflowTask, input_data: dict[str, Any], max_width: int, budget: int
) -> tuple[list[WorkflowTask], dict[str, Any], str | None]:
    """A dynamic fork's branch steps and its FORK task's input, from its resolved input; or an error.

    More branches than ``budget`` (what is left of the decision's ``loop_budget``) raise
    ``TooLargeForTheLoop`` before any is converted. The branches are remembered for ``dynamic_branches``.

    ``forkedTaskDefs`` keeps each branch's task JSON as given (with its input
    merged in), not the full struct with every default: a fork of thousands of
    branches stays a few bytes a branch.
    """
    same_task = any(key in input_data for key in _FORK_NAME_KEYS)
    asked = input_data.get("forkTaskInputs" if same_task else step.dynamic_fork_tasks_param or "")
    width = len(asked) if isinstance(asked, list) else 0  # checked before a branch is built
    if width > max_width:
        too_wide = f"{width} branches, more than max_fork_width ({max_width})"
        return [], input_data, f"{step.type} '{step.task_reference_name}' has {too_wide}"
    if width > budget:
        raise TooLargeForTheLoop(f"{step.type} '{step.task_reference_name}' has {width} branches")
    if same_task:
        raws, error = _same_task_steps(step, input_data)
        kept = dict(input_data)
    else:
        raws, error = _listed_steps(step, input_data)
        kept = {
            k: v
            for k, v in input_data.items()
            if k not in (step.dynamic_fork_tasks_param, step.dynamic_fork_tasks_input_param_name)
        }
    if error is not None:
        return [], input_data, error
    try:
        steps = _steps_of(raws)
    except msgspec.ValidationError as exc:
        return [], input_data, f"dynamic fork: a task is not a valid task: {exc}"
    refs: list[str] = []
    seen: set[str] = set()
    for branch in steps:
        ref = branch.task_reference_name
        for field, value in (("name", branch.name), ("taskReferenceName", ref)):
            problem = name_problem(value)
            if problem is not None:
                return [], input_data, f"dynamic fork: a branch's {field} {value!r} {problem}"
        if ref in seen:
            return [], input_data, f"dynamic fork: taskReferenceName '{ref}' is used by more than one branch"
        seen.add(ref)
        refs.append(ref)
    kept[FORKED_TASKS] = refs
    kept[FORKED_TASK_DEFS] = raws
    _branch_memo.put(kept, _branches([[branch] for branch in steps]))
    return steps, kept, None


def _listed_steps(step: WorkflowTask, input_data: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    tasks_param = step.dynamic_fork_tasks_param or ""
    inputs_param = step.dynamic_fork_tasks_input_param_name or ""
    raw_tasks = input_data.get(tasks_param)
    if raw_tasks is None:
        raw_tasks = []
    if not isinstance(raw_tasks, list):
        return [], f"dynamic fork: input '{tasks_param}' must be a list of tasks, not {type(raw_tasks).__name__}"
    raw_inputs = input_data.get(inputs_param)
    if raw_inputs is None:
        raw_inputs = {}
    if not isinstance(raw_inputs, dict):
        return [], f"dynamic fork: input '{inputs_param}' must be a map of reference name to input"
    raws: list[dict[str, Any]] = []
    for index, raw in enumerate(raw_tasks):
        ref = raw.get("taskReferenceName") if isinstance(raw, dict) else None
        if not isinstance(ref, str) or not ref.strip():
            return [], f"dynamic fork: input '{tasks_param}[{index}]' is not a task with a taskReferenceName"
        extra = raw_inputs.get(ref)
        if extra is not None and not isinstance(extra, dict):
            return [], f"dynamic fork: the input of '{ref}' must be a map"
        given = raw.get("inputParameters")
        if extra:
            raw = {**raw, "inputParameters": {**given, **extra} if isinstance(given, dict) else extra}
        if "name" not in raw:
            raw = {**raw, "name": ref}
        if step.optional:
            raw = {**raw, "optional": True}
        raws.append(raw)
    return raws, None


def _same_task_steps(step: WorkflowTask, input_data: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    inputs = input_data.get("forkTaskInputs")
    if not isinstance(inputs, list):
        return [], "dynamic fork: input 'forkTaskInputs' must be a list"
    kind = input_data.get("forkTaskType") or TaskType.SIMPLE.value
    name = input_data.get("forkTaskName") or (kind if kind != TaskType.SIMPLE.value else step.task_reference_name)
    if not isinstance(kind, str) or not isinstance(name, str):
        return [], "dynamic fork: 'forkTaskName' and 'forkTaskType' must be strings"
    raws: list[dict[str, Any]] = []
    for index, item in enumerate(inputs):
        params = dict(item) if isinstance(item, dict) else {"input": item}
        params["__index"] = index
        raw: dict[str, Any] = {
            "name": name,
            "taskReferenceName": f"_{name}_{index}",
            "type": kind,
            "inputParameters": params,
        }
        if step.optional:
            raw["optional"] = True
        raws.append(raw)
    return raws, None


# -- joins ---------------------------------------------------------------------------


_SUCCESSFUL: Final = frozenset(s for s in TaskStatus if s.is_successful)


def join_result(join: Task, latest: Mapping[str, Task], branches_done: bool) -> dict[str, Any] | None:
    """The JOIN's output once it may complete, else None.

    Looks from the end first: branches tend to finish in the order they
    started, so a JOIN still waiting finds out in a few lookups.
    """
    refs: list[str] = join.input_data.get(JOIN_ON) or []
    for ref in reversed(refs):
        task = latest.get(ref)
        if task is None:
            if not branches_done:
                return None
        elif task.status not in _SUCCESSFUL and (not branches_done or not task.status.is_terminal):
            return None
    output: dict[str, Any] = {}
    for ref in refs:
        task = latest.get(ref)
        if task is not None and task.status in _SUCCESSFUL:
            output[ref] = task.output_data
    return output


def exclusive_join_result(step: WorkflowTask, suffix: str, latest: Mapping[str, Task]) -> tuple[Task | None, bool]:
    """The task an EXCLUSIVE_JOIN takes its output from (its ``joinOn`` first, then its defaults), and
    whether that task failed."""
    for refs in (step.join_on, step.default_exclusive_join_task):
        for ref in refs:
            task = latest.get(ref + suffix)
            if task is None or task.status is TaskStatus.SKIPPED:
                continue
            return task, not task.status.is_successful
    return None, False
