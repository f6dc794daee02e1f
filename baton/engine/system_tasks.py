"""The system tasks the decider runs inline: INLINE, SWITCH/DECISION, SET_VARIABLE, TERMINATE,
JSON_JQ_TRANSFORM, NOOP, WAIT and HUMAN.

Each takes a SCHEDULED task (its input already resolved) and gives an ``Outcome``:
the task in its new state, and what it does to the run (new variables, a
termination). Failures are values: the task comes back FAILED with a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from baton.engine.evaluations import Evaluator, InProcess, Kind, Request, Result
from baton.engine.expressions import to_text
from baton.engine.jq_transform import JqResult
from baton.engine.scripts import ScriptResult
from baton.engine.waits import parse_duration, parse_until
from baton.model import UNSUPPORTED_TASK_TYPES, Task, TaskStatus, TaskType, WorkflowStatus

_replace = msgspec.structs.replace

JAVASCRIPT_EVALUATORS: Final = frozenset({"javascript", "graaljs"})
VALUE_PARAM: Final = "value-param"


@dataclass(frozen=True, slots=True)
class Termination:
    """A TERMINATE task ends the run with this status, output and reason."""

    status: WorkflowStatus
    output: dict[str, Any]
    reason: str | None


@dataclass(frozen=True, slots=True)
class Outcome:
    task: Task
    variables: dict[str, Any] | None = None
    """The run's new variables (SET_VARIABLE)."""
    termination: Termination | None = None


@dataclass(frozen=True, slots=True)
class Limits:
    """Where scripts and queries are evaluated, and the bounds the walk keeps."""

    evaluator: Evaluator = field(default_factory=InProcess)
    max_fork_width: int = 20_000


_encode = msgspec.json.Encoder().encode


def run_evaluation(kind: Kind, source: str, data: Mapping[str, Any], limits: Limits, label: str) -> Result | str:
    """The result of evaluating ``source`` on ``data``, or an error (a bound's names the task: ``label``)."""
    try:
        input_json = _encode(data)
    except (TypeError, ValueError, OverflowError) as exc:
        return f"{label}: its input is not JSON: {exc}"
    result = limits.evaluator.evaluate(Request(kind=kind, source=source, input_json=input_json))
    if result.limit:
        return f"{label} {result.error}"
    return result


def label(task: Task) -> str:
    """How a bound's error names the task: ``INLINE 'calc'``."""
    return f"{task.task_type} '{task.reference_task_name}'"


def completed(task: Task, now: int, output: dict[str, Any] | None = None) -> Task:
    return _replace(
        task,
        status=TaskStatus.COMPLETED,
        output_data=task.output_data if output is None else output,
        start_time=task.start_time or now,
        end_time=now,
        update_time=now,
    )


def failed(task: Task, now: int, reason: str, output: dict[str, Any] | None = None) -> Task:
    return _replace(
        task,
        status=TaskStatus.FAILED,
        reason_for_incompletion=reason,
        output_data=task.output_data if output is None else output,
        start_time=task.start_time or now,
        end_time=now,
        update_time=now,
    )


def _in_progress(task: Task, now: int, visible_at: int = 0) -> Task:
    return _replace(
        task,
        status=TaskStatus.IN_PROGRESS,
        start_time=task.start_time or now,
        update_time=now,
        visible_at=visible_at,
    )


def evaluate(
    evaluator: str | None, expression: Any, input_data: Mapping[str, Any], limits: Limits, label: str
) -> tuple[Any, str | None]:
    """An INLINE or SWITCH expression's value, or an error."""
    if not evaluator or not isinstance(expression, str) or not expression:
        return None, "a non-empty 'evaluatorType' and 'expression' are required"
    if evaluator == VALUE_PARAM:
        return input_data.get(expression), None
    if evaluator in JAVASCRIPT_EVALUATORS:
        result = run_evaluation("javascript", expression, input_data, limits, label)
        if isinstance(result, str):
            return None, result
        assert isinstance(result, ScriptResult)
        return result.value, result.error
    return None, f"unknown evaluatorType '{evaluator}' (expected javascript, graaljs or value-param)"


def case_key(value: Any) -> str:
    """A switch value as a case name: Java's ``String.valueOf`` (``true``, ``null``, ``42``)."""
    return "null" if value is None else to_text(value)


def _inline(task: Task, now: int, limits: Limits) -> Outcome:
    step = task.workflow_task
    inputs = task.input_data
    evaluator = inputs.get("evaluatorType") or (step.evaluator_type if step else None)
    expression = inputs.get("expression") or (step.expression if step else None)
    value, error = evaluate(evaluator, expression, inputs, limits, label(task))
    if error is not None:
        return Outcome(task=failed(task, now, error))
    return Outcome(task=completed(task, now, {"result": value}))


def switch_expression(task: Task) -> tuple[str | None, Any]:
    """The evaluator and expression of a SWITCH or legacy DECISION step."""
    step = task.workflow_task
    if step is None:
        return None, None
    if step.evaluator_type:
        return step.evaluator_type, step.expression
    if step.case_value_param:
        return VALUE_PARAM, step.case_value_param
    if step.case_expression:
        return "javascript", step.case_expression
    if step.expression:
        return VALUE_PARAM, step.expression
    return None, None


def _switch(task: Task, now: int, limits: Limits) -> Outcome:
    evaluator, expression = switch_expression(task)
    value, error = evaluate(evaluator, expression, task.input_data, limits, label(task))
    if error is not None:
        return Outcome(task=failed(task, now, error))
    key = case_key(value)
    output_key = "caseOutput" if task.task_type == TaskType.DECISION.value else "evaluationResult"
    done = completed(task, now, {output_key: [key]})
    return Outcome(task=_replace(done, input_data={**task.input_data, "case": key}))


def chosen_case(task: Task) -> str | None:
    """The case a completed SWITCH or DECISION task chose."""
    for key in ("evaluationResult", "caseOutput"):
        found = task.output_data.get(key)
        if isinstance(found, list) and found and isinstance(found[0], str):
            return found[0]
    case = task.input_data.get("case")
    return case if isinstance(case, str) else None


def _set_variable(task: Task, now: int, variables: Mapping[str, Any]) -> Outcome:
    return Outcome(task=completed(task, now), variables={**variables, **task.input_data})


_TERMINATION_STATUSES: Final = {
    "COMPLETED": WorkflowStatus.COMPLETED,
    "FAILED": WorkflowStatus.FAILED,
    "TERMINATED": WorkflowStatus.TERMINATED,
}


def _terminate(task: Task, now: int) -> Outcome:
    inputs = task.input_data
    wanted = inputs.get("terminationStatus")
    status = _TERMINATION_STATUSES.get(wanted) if isinstance(wanted, str) else None
    if status is None:
        return Outcome(
            task=failed(task, now, f"terminationStatus must be COMPLETED, FAILED or TERMINATED, not {wanted!r}")
        )
    given = inputs.get("workflowOutput")
    output: dict[str, Any] = given if isinstance(given, dict) else {} if given is None else {"output": given}
    reason_value = inputs.get("terminationReason")
    reason = None if reason_value is None else to_text(reason_value)
    return Outcome(
        task=completed(task, now, output),
        termination=Termination(status=status, output=output, reason=reason),
    )


def _jq(task: Task, now: int, limits: Limits) -> Outcome:
    query = task.input_data.get("queryExpression")
    if not isinstance(query, str) or not query.strip():
        error = "'queryExpression' must be a non-empty string"
        return Outcome(task=failed(task, now, error, {"error": error}))
    result = run_evaluation("jq", query, task.input_data, limits, label(task))
    if isinstance(result, str):
        return Outcome(task=failed(task, now, result, {"error": result}))
    assert isinstance(result, JqResult)
    if result.error is not None:
        return Outcome(task=failed(task, now, result.error, {"error": result.error}))
    return Outcome(task=completed(task, now, {"result": result.result, "resultList": result.result_list}))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _wait(task: Task, now: int) -> Outcome:
    duration, until = task.input_data.get("duration"), task.input_data.get("until")
    if not _blank(duration) and not _blank(until):
        return Outcome(task=failed(task, now, "WAIT takes 'duration' or 'until', not both"))
    wake = 0
    if not _blank(duration):
        seconds = parse_duration(duration)
        if seconds is None:
            return Outcome(
                task=failed(
                    task,
                    now,
                    f"invalid WAIT duration {duration!r}: expected e.g. '30s', '5m', '1h 2m' or '2 days'",
                )
            )
        wake = now + seconds * 1000
    elif not _blank(until):
        moment = parse_until(until)
        if moment is None:
            return Outcome(
                task=failed(
                    task,
                    now,
                    f"invalid WAIT until {until!r}: expected e.g. '2026-11-22 10:00', "
                    "'2026-11-22T10:00:00+02:00' or '2026-11-22 10:00 UTC'",
                )
            )
        wake = max(moment, 1)
    else:
        return Outcome(task=_in_progress(task, now))  # until a signal
    if wake <= now:
        return Outcome(task=completed(task, now))
    return Outcome(task=_in_progress(task, now, visible_at=wake))


def _unsupported(task: Task, now: int) -> Outcome:
    """A Conductor task type Baton does not run: a terminal failure (a retry could not help)."""
    reason = f"Task type {task.task_type} is not supported by Baton"
    return Outcome(task=_replace(failed(task, now, reason), status=TaskStatus.FAILED_WITH_TERMINAL_ERROR))


def execute(task: Task, *, now: int, variables: Mapping[str, Any], limits: Limits) -> Outcome:
    """Run one SCHEDULED system task."""
    runner = _RUNNERS.get(task.task_type)
    if runner is None:
        return Outcome(task=failed(task, now, f"task type {task.task_type} cannot run in the server"))
    return runner(task, now, variables, limits)


_Runner = Callable[[Task, int, Mapping[str, Any], Limits], Outcome]

_RUNNERS: Final[dict[str, _Runner]] = {
    TaskType.INLINE.value: lambda t, now, v, lim: _inline(t, now, lim),
    TaskType.SWITCH.value: lambda t, now, v, lim: _switch(t, now, lim),
    TaskType.DECISION.value: lambda t, now, v, lim: _switch(t, now, lim),
    TaskType.SET_VARIABLE.value: lambda t, now, v, lim: _set_variable(t, now, v),
    TaskType.TERMINATE.value: lambda t, now, v, lim: _terminate(t, now),
    TaskType.JSON_JQ_TRANSFORM.value: lambda t, now, v, lim: _jq(t, now, lim),
    TaskType.NOOP.value: lambda t, now, v, lim: Outcome(task=completed(t, now)),
    TaskType.WAIT.value: lambda t, now, v, lim: _wait(t, now),
    TaskType.HUMAN.value: lambda t, now, v, lim: Outcome(task=_in_progress(t, now)),
    **{kind: lambda t, now, v, lim: _unsupported(t, now) for kind in UNSUPPORTED_TASK_TYPES},
}
