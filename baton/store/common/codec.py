"""Rows' JSON bodies: structs to column text and back, snapshots' hashes, task log lines."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias

import msgspec

from baton.engine.decision import Signal
from baton.model import (
    Task,
    TaskDef,
    TaskExecLog,
    Workflow,
    WorkflowDef,
)

# -- codecs ------------------------------------------------------------------------

_encoder = msgspec.json.Encoder()
# Snapshots are hashed, so their JSON must not depend on the order keys were given in.
_canonical_encoder = msgspec.json.Encoder(order="sorted")
_workflow_def_decoder = msgspec.json.Decoder(WorkflowDef)
_task_def_decoder = msgspec.json.Decoder(TaskDef)
workflow_decoder = msgspec.json.Decoder(Workflow)
task_decoder = msgspec.json.Decoder(Task)
_signal_decoder = msgspec.json.Decoder(Signal)

Body: TypeAlias = str | bytes
"""A ``body`` column as a driver hands it back."""


def encode(value: Any) -> str:
    """The ``body`` column text of a struct."""
    return _encoder.encode(value).decode()


def decode_workflow_def(body: Body) -> WorkflowDef:
    return _workflow_def_decoder.decode(body)


def decode_task_def(body: Body) -> TaskDef:
    return _task_def_decoder.decode(body)


def decode_task(body: Body) -> Task:
    return task_decoder.decode(body)


def decode_signal(body: Body) -> Signal:
    return _signal_decoder.decode(body)


def decode_run(body: Body, task_bodies: Iterable[Body] = ()) -> Workflow:
    """A run from its header body and its task bodies (already ordered by ``seq``)."""
    run = workflow_decoder.decode(body)
    run.tasks = [task_decoder.decode(b) for b in task_bodies]
    return run


def encode_run_header(run: Workflow) -> str:
    """The run's body without its tasks: they live in their own rows."""
    if run.tasks:
        run = msgspec.structs.replace(run, tasks=[])
    return encode(run)


def snapshot_of(definition: WorkflowDef) -> tuple[str, str]:
    """``(hash, body)`` of the exact definition a run executes: sha256 of its canonical JSON."""
    raw = _canonical_encoder.encode(definition)
    return hashlib.sha256(raw).hexdigest(), raw.decode()


# -- task logs -----------------------------------------------------------------------


_log_decoder = msgspec.json.Decoder(str)


def encode_log_line(line: str) -> str:
    """A ``log`` column's text: the line as a JSON string, since PostgreSQL text cannot hold NUL."""
    return encode(line)


def task_logs_of(task_id: str, rows: Iterable[Sequence[Any]]) -> list[TaskExecLog] | None:
    """Log lines from ``(log, created_time)`` rows of a LEFT JOIN on the task: None when no row (no such task)."""
    found: list[TaskExecLog] | None = None
    for log, created_time in rows:
        if found is None:
            found = []
        if log is not None:
            found.append(TaskExecLog(log=_log_decoder.decode(log), task_id=task_id, created_time=created_time))
    return found
