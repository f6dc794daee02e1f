"""DO_WHILE: iteration scopes, the loop condition, ``items``, per-iteration outputs and ``keepLastN``.

Conductor's shapes: a body task of iteration N has the reference name
``<ref>__N`` (``<ref>__2__3`` in an inner loop's third iteration inside an outer
loop's second) and ``iteration`` N; the DO_WHILE task's output holds
``iteration`` and, per finished iteration, ``"N": {<body ref>: <its output>}``.
The condition sees ``$`` = the loop's input, ``$.<loop ref>`` = its output and
``$.<body ref>`` = each body task's output in the iteration just finished.

Where Conductor leaves room, Baton chooses:

* ``items`` (the top-level field or ``inputParameters.items``) makes one
  iteration per item; the current one is ``loopItem`` / ``loopIndex`` (from 0)
  in the loop's output. An empty list completes the loop at once with
  ``iteration`` 0. With a ``loopCondition`` as well, both must hold to go on.
* A condition that is neither a boolean nor a number is false; a number is
  true when positive (Conductor's ``evalBool``). A condition that fails to
  evaluate fails the loop for good (FAILED_WITH_TERMINAL_ERROR).
* ``keepLastN`` removes the tasks of older iterations from the run and their
  entries from the loop's output, as each iteration ends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from baton.engine import system_tasks
from baton.model import Task, WorkflowTask

_SUFFIX: Final = re.compile(r"(?:__\d+)+$")

LOOP_ITEM: Final = "loopItem"
LOOP_INDEX: Final = "loopIndex"
ITERATION: Final = "iteration"


def base_ref(ref: str) -> str:
    """A reference name without its iteration suffixes: ``fetch__2__1`` -> ``fetch``."""
    return _SUFFIX.sub("", ref)


def iteration_suffix(outer: str, iteration: int) -> str:
    return f"{outer}__{iteration}"


def body_steps(steps: list[WorkflowTask]) -> Iterator[WorkflowTask]:
    """The steps of a loop body that share its iteration suffix: nested lists, but not inner loops' bodies."""
    for step in steps:
        yield step
        for key in step.decision_cases:
            yield from body_steps(step.decision_cases[key])
        yield from body_steps(step.default_case)
        for branch in step.fork_tasks:
            yield from body_steps(branch)


def iteration_outputs(steps: list[WorkflowTask], suffix: str, latest: Mapping[str, Task]) -> dict[str, Any]:
    """``{body ref: output}`` of the body tasks that ran in the iteration with this suffix."""
    outputs: dict[str, Any] = {}
    for step in body_steps(steps):
        task = latest.get(step.task_reference_name + suffix)
        if task is not None:
            outputs[step.task_reference_name] = task.output_data
    return outputs


def items_of(step: WorkflowTask, input_data: Mapping[str, Any]) -> tuple[list[Any] | None, str | None]:
    """The list an ``items`` loop runs over (None for a condition loop), or an error."""
    if "items" in input_data:
        items = input_data["items"]
    elif step.items is not None:
        items = step.items
    else:
        return None, None
    if not isinstance(items, list):
        return None, f"DO_WHILE items must be a list, not {type(items).__name__}"
    return items, None


def item_fields(items: list[Any] | None, iteration: int) -> dict[str, Any]:
    """``loopItem`` and ``loopIndex`` for an iteration of an ``items`` loop (iterations count from 1)."""
    if items is None or not 1 <= iteration <= len(items):
        return {}
    return {LOOP_ITEM: items[iteration - 1], LOOP_INDEX: iteration - 1}


def keep_last(input_data: Mapping[str, Any]) -> int | None:
    keep = input_data.get("keepLastN")
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        return None
    return keep


def goes_on(
    step: WorkflowTask,
    loop: Task,
    output: dict[str, Any],
    finished: dict[str, Any],
    items: list[Any] | None,
    limits: system_tasks.Limits,
) -> tuple[bool, str | None]:
    """Whether another iteration follows the one just finished (``loop.iteration``), or an error."""
    iteration = loop.iteration
    if items is not None and iteration >= len(items):
        return False, None
    condition = (step.loop_condition or "").strip()
    if not condition:
        return items is not None, None
    scope: dict[str, Any] = {**loop.input_data, **finished}
    scope[base_ref(loop.reference_task_name)] = output
    scope[loop.reference_task_name] = output
    label = f"{system_tasks.label(loop)} loopCondition"
    value, error = system_tasks.evaluate("javascript", condition, scope, limits, label)
    if error is not None:
        return False, error if error.startswith(label) else f"loopCondition failed: {error}"
    if isinstance(value, bool):
        return value, None
    if isinstance(value, int | float):
        return value > 0, None
    return False, None
