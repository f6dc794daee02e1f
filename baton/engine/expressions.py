"""Conductor's input resolution: ``${workflow.input.x}``, ``${ref.output.a.b[0]}`` and friends.

A string that is exactly one expression resolves to the value itself, whatever
its type. Expressions inside a longer string are interpolated as Conductor's
``ParametersUtils`` does: strings as they are, ``null`` (or a missing path) as
the empty string, numbers and booleans as their text. Maps and lists are
written as compact JSON (Conductor writes Java's ``toString``, ``{a=1}``,
which no client can parse back). ``$${`` escapes: ``"$${x}"`` is the literal
``"${x}"``. A missing path, an out-of-range index or a path this module does not
understand resolves to None; resolution never raises.

Paths follow the subset of JsonPath that workflows use: dotted names, ``[n]``
indices (negative ones count from the end), ``['key']`` for keys with dots or
spaces, and a trailing ``length()``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Final, Protocol

import msgspec

from baton.model import Task, Workflow
from baton.model.secrets import MASK


class Document(Protocol):
    """What expressions read from: a plain dict works, and so does ``RunDocument``."""

    def get(self, key: str, /) -> Any: ...


class _Length:
    """The ``length()`` function at the end of a path."""

    __slots__ = ()


_LENGTH: Final = _Length()
_INVALID: Final[tuple[Any, ...]] = ()
"""A path this module cannot read; resolves to None."""

Segment = str | int | _Length

_SPLIT: Final = re.compile(r"(?=(?<!\$)\$\{)|(?<=\})")
"""Conductor's split: before each ``${`` not preceded by ``$``, and after each ``}``."""


class _Expr:
    __slots__ = ("path",)

    def __init__(self, path: tuple[Segment, ...]) -> None:
        self.path = path


Part = str | _Expr


@lru_cache(maxsize=8192)
def _parse_template(text: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    for piece in _SPLIT.split(text):
        if not piece:
            continue
        if piece.startswith("${") and piece.endswith("}"):
            inner = piece[2:-1]
            parts.append(_Expr(parse_path(inner)) if inner.strip() else "")
        elif "$${" in piece:
            parts.append(piece.replace("$${", "${"))
        else:
            parts.append(piece)
    return tuple(parts)


@lru_cache(maxsize=8192)
def parse_path(path: str) -> tuple[Segment, ...]:
    """Split ``a.b[0]['c d'].length()`` into segments; an empty tuple when it cannot be read."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
        if text.startswith("."):
            text = text[1:]
    segments: list[Segment] = []
    i, n = 0, len(text)
    expect_name = True
    while i < n:
        c = text[i]
        if c == ".":
            if expect_name:  # ".." (deep scan) or a leading dot: not supported
                return _INVALID
            expect_name = True
            i += 1
        elif c == "[":
            end = text.find("]", i)
            if end < 0:
                return _INVALID
            inner = text[i + 1 : end].strip()
            if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                segments.append(inner[1:-1])
            else:
                try:
                    segments.append(int(inner))
                except ValueError:
                    return _INVALID  # wildcards, slices and filters
            expect_name = False
            i = end + 1
        else:
            if not expect_name:
                return _INVALID
            j = i
            while j < n and text[j] not in ".[":
                j += 1
            name = text[i:j].strip()
            if name == "length()":
                segments.append(_LENGTH)
            elif not name or name == "*":
                return _INVALID
            else:
                segments.append(name)
            expect_name = False
            i = j
    if expect_name and segments:  # a trailing dot
        return _INVALID
    return tuple(segments)


def template_parts(text: str) -> tuple[str | tuple[Segment, ...], ...]:
    """A string's literal pieces and its expressions' paths, in order (``$${`` already unescaped)."""
    return tuple(part.path if isinstance(part, _Expr) else part for part in _parse_template(text))


def read_path(document: Document, path: tuple[Segment, ...]) -> Any:
    """The value at ``path`` in ``document``, or None."""
    if not path:
        return None
    head = path[0]
    if not isinstance(head, str):
        return None
    value = document.get(head)
    for segment in path[1:]:
        if value is None:
            return None
        if isinstance(segment, str):
            value = value.get(segment) if isinstance(value, dict) else None
        elif isinstance(segment, int):
            if isinstance(value, list) and -len(value) <= segment < len(value):
                value = value[segment]
            else:
                return None
        else:
            return len(value) if isinstance(value, list | dict | str) else None
    return value


def evaluate(path: str, document: Document) -> Any:
    """The value of one expression body such as ``workflow.input.x``, or None."""
    return read_path(document, parse_path(path))


def to_text(value: Any) -> str:
    """How a value is written into a longer string."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int | float):
        return str(value)
    try:
        return msgspec.json.encode(value).decode()
    except (TypeError, ValueError, OverflowError):
        return str(value)


def resolve_string(text: str, document: Document) -> Any:
    """Resolve the expressions in one string."""
    if "${" not in text:
        return text
    parts = _parse_template(text)
    if len(parts) == 1:
        part = parts[0]
        return read_path(document, part.path) if isinstance(part, _Expr) else part
    return "".join(to_text(read_path(document, part.path)) if isinstance(part, _Expr) else part for part in parts)


def resolve(value: Any, document: Document) -> Any:
    """Resolve every expression in ``value`` (dicts and lists recursively); other values are kept."""
    if isinstance(value, str):
        return resolve_string(value, document) if "${" in value else value
    if isinstance(value, dict):
        return {key: resolve(item, document) for key, item in value.items()}
    if isinstance(value, list):
        return [resolve(item, document) for item in value]
    return value


def task_document(task: Task) -> dict[str, Any]:
    """What ``${ref.…}`` sees of a task."""
    return {
        "taskId": task.task_id,
        "taskType": task.task_type,
        "taskDefName": task.task_def_name,
        "referenceTaskName": task.reference_task_name,
        "status": task.status.value,
        "input": task.input_data,
        "output": task.output_data,
        "retryCount": task.retry_count,
        "seq": task.seq,
        "iteration": task.iteration,
        "pollCount": task.poll_count,
        "callbackAfterSeconds": task.callback_after_seconds,
        "scheduledTime": task.scheduled_time,
        "startTime": task.start_time,
        "endTime": task.end_time,
        "updateTime": task.update_time,
        "workerId": task.worker_id,
        "reasonForIncompletion": task.reason_for_incompletion,
        "correlationId": task.correlation_id,
        "workflowInstanceId": task.workflow_instance_id,
        "workflowType": task.workflow_type,
    }


def workflow_document(run: Workflow, *, schema_version: int = 2) -> dict[str, Any]:
    """What ``${workflow.…}`` sees of a run."""
    return {
        "workflowId": run.workflow_id,
        "workflowType": run.workflow_name,
        "name": run.workflow_name,
        "version": run.workflow_version,
        "schemaVersion": schema_version,
        "status": run.status.value,
        "correlationId": run.correlation_id,
        "priority": run.priority,
        "input": run.input,
        "output": run.output,
        "variables": run.variables,
        "createTime": run.create_time,
        "startTime": run.start_time,
        "updateTime": run.update_time,
        "endTime": run.end_time,
        "reasonForIncompletion": run.reason_for_incompletion,
        "parentWorkflowId": run.parent_workflow_id,
        "parentWorkflowTaskId": run.parent_workflow_task_id,
        "createdBy": run.created_by,
        "idempotencyKey": run.idempotency_key,
        "secrets": MASKED_SECRETS,
    }


class _MaskedSecrets(dict[str, Any]):
    """``workflow.secrets`` as expressions read it: every name reads ``***``. The values are given only to the
    one that runs a task, when it is handed out (``engine/secrets.py``)."""

    def get(self, key: object, default: object = None, /) -> Any:
        return MASK


MASKED_SECRETS: Final = _MaskedSecrets()


def _newer(a: Task, b: Task) -> bool:
    """Whether attempt ``a`` is later than ``b`` (loops: iteration first; then retries; then order)."""
    return (a.iteration, a.retry_count, a.seq) > (b.iteration, b.retry_count, b.seq)


def latest_by_reference(tasks: list[Task]) -> dict[str, Task]:
    """Each reference name's latest attempt."""
    latest: dict[str, Task] = {}
    for task in tasks:
        ref = task.reference_task_name
        seen = latest.get(ref)
        if seen is None or _newer(task, seen):
            latest[ref] = task
    return latest


class RunDocument:
    """The lookup expressions read: ``workflow`` and each reference name's latest attempt.

    Built lazily: a task's entry is made when an expression first reads it, and
    remade only when the task object changes (tasks are never mutated in place,
    so identity tells). ``workflow`` and ``latest`` may be swapped as the run
    moves on. ``CPEWF_TASK_ID`` is the id of the task being scheduled.
    """

    __slots__ = ("_task_cache", "_workflow_cache", "latest", "schema_version", "task_id", "workflow")

    def __init__(
        self,
        workflow: Workflow,
        latest: Mapping[str, Task],
        *,
        schema_version: int = 2,
    ) -> None:
        self.workflow = workflow
        self.latest = latest
        self.schema_version = schema_version
        self.task_id: str | None = None
        self._workflow_cache: tuple[Workflow, dict[str, Any]] | None = None
        self._task_cache: dict[str, tuple[Task, dict[str, Any]]] = {}

    def get(self, key: str, /) -> Any:
        if key == "workflow":
            cached = self._workflow_cache
            if cached is None or cached[0] is not self.workflow:
                cached = (self.workflow, workflow_document(self.workflow, schema_version=self.schema_version))
                self._workflow_cache = cached
            return cached[1]
        task = self.latest.get(key)
        if task is None:
            return self.task_id if key == "CPEWF_TASK_ID" else None
        entry = self._task_cache.get(key)
        if entry is None or entry[0] is not task:
            entry = (task, task_document(task))
            self._task_cache[key] = entry
        return entry[1]


def document_for(run: Workflow, *, schema_version: int = 2) -> RunDocument:
    """The lookup for a run with its tasks."""
    return RunDocument(run, latest_by_reference(run.tasks), schema_version=schema_version)
