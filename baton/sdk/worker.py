"""Worker functions: the ``@worker_task`` decorator, how a function is called, and loading by name.

A worker function takes either the ``Task`` itself (a first parameter annotated
``Task``) or keyword arguments drawn from ``task.input_data`` by parameter name,
as Conductor's Python SDK does. What it returns becomes the task's result:

- a mapping (or ``None``, a dataclass, a msgspec struct): COMPLETED with that output;
- any other value: COMPLETED with ``{"result": value}``;
- ``InProgress(...)``: IN_PROGRESS, to be handed out again after ``callback_after_seconds``;
- a ``TaskResult``: sent as is (its task and run ids filled in).

An exception fails the task (FAILED, retried per its TaskDef) with the
exception's text as ``reasonForIncompletion``; ``TerminalError`` fails it for
good (FAILED_WITH_TERMINAL_ERROR, no retry).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import importlib
import importlib.util
import inspect
import os
import sys
import time
import traceback
import types
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from baton.errors import BatonError
from baton.model import Task, TaskExecLog, TaskResult, TaskResultStatus

__all__ = [
    "InProgress",
    "TerminalError",
    "Worker",
    "WorkerLoadError",
    "WorkerRegistry",
    "default_registry",
    "load_workers",
    "to_result",
    "worker_of",
    "worker_task",
]

F = TypeVar("F", bound=Callable[..., Any])

_ATTRIBUTE = "__baton_worker__"
_MAX_REASON = 4000


class TerminalError(Exception):
    """The task failed and retrying cannot help: it ends FAILED_WITH_TERMINAL_ERROR."""


class WorkerLoadError(BatonError):
    """A worker spec could not be loaded."""


@dataclass(frozen=True, kw_only=True)
class InProgress:
    """Return this to keep a task IN_PROGRESS; the server hands it out again after ``callback_after_seconds``."""

    callback_after_seconds: int = 0
    output: Mapping[str, Any] = dataclasses.field(default_factory=dict)


def _takes_task(func: Callable[..., Any]) -> bool:
    """Whether the function's first parameter is annotated ``Task`` (Baton's model)."""
    try:
        params = list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):
        return False
    if not params or params[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        return False
    annotation: Any = params[0].annotation
    if isinstance(annotation, str):
        try:
            annotation = typing.get_type_hints(func).get(params[0].name, annotation)
        except Exception:
            return str(annotation).rsplit(".", 1)[-1] == "Task"
    return annotation is Task


@dataclass(frozen=True, kw_only=True)
class Worker:
    """A function that runs the tasks of one task type.

    ``poll_interval_ms`` is the pause after a poll that found nothing;
    ``concurrency``, when set, overrides the runner's per-type concurrency.
    """

    task_type: str
    func: Callable[..., Any]
    poll_interval_ms: int = 100
    domain: str | None = None
    concurrency: int | None = None

    @functools.cached_property
    def takes_task(self) -> bool:
        """Whether the function is called with the ``Task`` rather than its inputs."""
        return _takes_task(self.func)

    @functools.cached_property
    def _parameters(self) -> list[inspect.Parameter]:
        return list(inspect.signature(self.func).parameters.values())

    def arguments(self, task: Task) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The positional and keyword arguments the function is called with for ``task``."""
        if self.takes_task:
            return (task,), {}
        data = task.input_data
        kwargs: dict[str, Any] = {}
        bound: set[str] = set()
        for param in self._parameters:
            if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.POSITIONAL_ONLY):
                continue
            if param.kind is inspect.Parameter.VAR_KEYWORD:
                kwargs.update({k: v for k, v in data.items() if k not in bound})
                continue
            bound.add(param.name)
            if param.name in data:
                kwargs[param.name] = data[param.name]
            elif param.default is inspect.Parameter.empty:
                # A missing input is None, as Conductor's SDK passes it.
                kwargs[param.name] = None
        return (), kwargs

    def call(self, task: Task) -> Any:
        """Call the function for ``task`` (an ``async def`` is run to completion) and return what it returns."""
        args, kwargs = self.arguments(task)
        value = self.func(*args, **kwargs)
        if inspect.isawaitable(value):
            value = asyncio.run(_await(value))
        return value

    def execute(self, task: Task, *, worker_id: str | None = None) -> TaskResult:
        """Run the function for ``task`` and turn whatever happens into a ``TaskResult``; never raises."""
        try:
            value = self.call(task)
        except TerminalError as exc:
            return _failure(task, exc, TaskResultStatus.FAILED_WITH_TERMINAL_ERROR, worker_id)
        except Exception as exc:
            return _failure(task, exc, TaskResultStatus.FAILED, worker_id)
        try:
            return to_result(task, value, worker_id=worker_id)
        except Exception as exc:
            return _failure(task, exc, TaskResultStatus.FAILED, worker_id)


async def _await(value: typing.Awaitable[Any]) -> Any:
    return await value


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:_MAX_REASON]


def _failure(task: Task, exc: BaseException, status: TaskResultStatus, worker_id: str | None) -> TaskResult:
    trace = "".join(traceback.format_exception(exc))
    return TaskResult(
        task_id=task.task_id,
        workflow_instance_id=task.workflow_instance_id,
        status=status,
        reason_for_incompletion=_reason(exc),
        worker_id=worker_id,
        logs=[TaskExecLog(log=trace[-_MAX_REASON:], task_id=task.task_id, created_time=_now_ms())],
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _output(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, msgspec.Struct):
        built = msgspec.to_builtins(value)
        if isinstance(built, dict):
            return built
    return {"result": value}


def to_result(task: Task, value: Any, *, worker_id: str | None = None) -> TaskResult:
    """What a worker function returned, as the ``TaskResult`` to report for ``task``."""
    if isinstance(value, TaskResult):
        return msgspec.structs.replace(
            value,
            task_id=value.task_id or task.task_id,
            workflow_instance_id=value.workflow_instance_id or task.workflow_instance_id,
            worker_id=value.worker_id or worker_id,
        )
    if isinstance(value, InProgress):
        return TaskResult(
            task_id=task.task_id,
            workflow_instance_id=task.workflow_instance_id,
            status=TaskResultStatus.IN_PROGRESS,
            output_data=dict(value.output),
            callback_after_seconds=value.callback_after_seconds,
            worker_id=worker_id,
        )
    return TaskResult(
        task_id=task.task_id,
        workflow_instance_id=task.workflow_instance_id,
        status=TaskResultStatus.COMPLETED,
        output_data=_output(value),
        worker_id=worker_id,
    )


class WorkerRegistry:
    """Workers by task type (and domain); the decorator fills ``default_registry``."""

    def __init__(self) -> None:
        self._workers: dict[tuple[str, str | None], Worker] = {}

    def add(self, worker: Worker) -> None:
        self._workers[(worker.task_type, worker.domain)] = worker

    def get(self, task_type: str, domain: str | None = None) -> Worker | None:
        return self._workers.get((task_type, domain))

    def clear(self) -> None:
        self._workers.clear()

    def __iter__(self) -> Iterator[Worker]:
        return iter(list(self._workers.values()))

    def __len__(self) -> int:
        return len(self._workers)


default_registry = WorkerRegistry()
"""Where ``@worker_task`` records workers unless given another registry."""


def worker_task(
    task_type: str,
    *,
    poll_interval_ms: int = 100,
    domain: str | None = None,
    concurrency: int | None = None,
    registry: WorkerRegistry | None = None,
) -> Callable[[F], F]:
    """Mark a function as the worker for ``task_type``.

    The function is returned unchanged (it can still be called directly); the
    ``Worker`` is recorded in the registry and on the function, so that
    ``load_workers(["module:function"])`` finds it.
    """
    if not task_type:
        raise ValueError("worker_task needs a task type")

    def decorate(func: F) -> F:
        worker = Worker(
            task_type=task_type,
            func=func,
            poll_interval_ms=poll_interval_ms,
            domain=domain,
            concurrency=concurrency,
        )
        (registry if registry is not None else default_registry).add(worker)
        setattr(func, _ATTRIBUTE, worker)
        return func

    return decorate


def worker_of(obj: object) -> Worker | None:
    """The ``Worker`` an object is or carries, if any."""
    if isinstance(obj, Worker):
        return obj
    found = getattr(obj, _ATTRIBUTE, None)
    return found if isinstance(found, Worker) else None


def _import(module_name: str) -> types.ModuleType:
    """A module by its dotted name, or by its file's path (``examples/workers.py``)."""
    if module_name.endswith(".py") or "/" in module_name or os.sep in module_name:
        return _import_file(Path(module_name))
    try:
        return importlib.import_module(module_name)
    except ImportError as exc:
        raise WorkerLoadError(f"cannot import {module_name!r}: {exc}") from exc


def _import_file(path: Path) -> types.ModuleType:
    """The module in ``path``, imported under its file's stem with its folder first on ``sys.path`` (so that it
    imports its neighbours as it would when run from there); the same file twice is the same module."""
    if not path.is_file():
        raise WorkerLoadError(f"cannot import {str(path)!r}: no such file")
    folder = str(path.resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    name = path.stem
    loaded = sys.modules.get(name)
    if loaded is not None:
        if Path(getattr(loaded, "__file__", "") or "").resolve() == path.resolve():
            return loaded
        raise WorkerLoadError(f"cannot import {str(path)!r}: a module named {name!r} is imported already; rename it")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise WorkerLoadError(f"cannot import {str(path)!r}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise WorkerLoadError(f"cannot import {str(path)!r}: {exc}") from exc
    return module


def _load_one(spec: str) -> list[Worker]:
    module_name, sep, attr_path = spec.partition(":")
    task_type: str | None = None
    if "=" in attr_path:
        attr_path, _, task_type = attr_path.partition("=")
    if not module_name or (sep and not attr_path):
        raise WorkerLoadError(f"bad worker spec {spec!r}: expected module:function or module")
    module = _import(module_name)
    if not sep:
        found = [w for w in (worker_of(v) for v in vars(module).values()) if w is not None]
        if not found:
            raise WorkerLoadError(f"module {module_name!r} has no @worker_task functions")
        return list({(w.task_type, w.domain): w for w in found}.values())
    obj: Any = module
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as exc:
            raise WorkerLoadError(f"{module_name!r} has no attribute {attr_path!r}") from exc
    worker = worker_of(obj)
    if worker is None:
        if not callable(obj):
            raise WorkerLoadError(f"{spec!r} is not a function")
        worker = Worker(task_type=task_type or attr_path.rsplit(".", 1)[-1], func=obj)
    elif task_type:
        worker = dataclasses.replace(worker, task_type=task_type)
    return [worker]


def load_workers(specs: Iterable[str]) -> list[Worker]:
    """Load workers from specs.

    ``module:function`` is one function: its ``@worker_task`` settings, or, for a
    plain function, a worker whose task type is the function's name.
    ``module:function=task_type`` sets the task type. ``module`` alone is every
    ``@worker_task`` function the module defines or imports.
    """
    workers: list[Worker] = []
    for spec in specs:
        workers.extend(_load_one(spec.strip()))
    seen: dict[tuple[str, str | None], Worker] = {}
    for worker in workers:
        seen[(worker.task_type, worker.domain)] = worker
    return list(seen.values())
