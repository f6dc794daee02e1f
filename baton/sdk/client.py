"""HTTP clients for Baton's REST API (Conductor's routes and shapes).

``BatonClient`` is synchronous, ``AsyncBatonClient`` is its asyncio twin; both
describe each route once as a ``_Call`` (method, path, query, headers, body and
how to read the answer) and differ only in how they send it. Each keeps one
``httpx`` client so connections are reused.

A non-2xx answer raises ``BatonApiError``; a request that never got an answer
(refused, reset, timed out) raises ``BatonConnectionError``, which callers that
must not lose a request (the worker runner) retry.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Generic, NamedTuple, Self, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from baton.errors import BatonError, FieldError
from baton.model import (
    BulkResponse,
    IdempotencyStrategy,
    RerunWorkflowRequest,
    SkipTaskRequest,
    StartWorkflowRequest,
    Task,
    TaskDef,
    TaskExecLog,
    TaskResult,
    TaskResultStatus,
    TaskStatus,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
)
from baton.model.summaries import TaskSummary, WorkflowSummary

__all__ = [
    "AsyncBatonClient",
    "BatonApiError",
    "BatonClient",
    "BatonConnectionError",
    "ExecuteResult",
    "SearchResult",
    "WorkflowRun",
    "WorkflowStatusSummary",
]

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
"""Seconds a request may take, on top of any wait the request itself asks for."""


class BatonApiError(BatonError):
    """The server refused the request."""

    def __init__(
        self,
        status_code: int,
        message: str | None = None,
        validation_errors: list[FieldError] | None = None,
        *,
        body: str = "",
    ) -> None:
        self.status_code = status_code
        self.validation_errors = validation_errors or []
        self.body = body
        super().__init__(message or f"HTTP {status_code}")

    def __str__(self) -> str:
        text = f"{self.status_code}: {self.message}"
        if self.validation_errors:
            text += " (" + "; ".join(f"{e.path}: {e.message}" for e in self.validation_errors) + ")"
        return text


class BatonConnectionError(BatonError):
    """The server could not be reached, or did not answer in time."""


class WorkflowRun(msgspec.Struct, rename="camel", kw_only=True):
    """The answer of a synchronous execute: Conductor's ``WorkflowRun``.

    Every field but the id is optional so that both a ``WorkflowRun`` and a full
    ``Workflow`` body decode into it.
    """

    workflow_id: str
    status: WorkflowStatus = WorkflowStatus.RUNNING
    request_id: str | None = None
    correlation_id: str | None = None
    workflow_name: str | None = None
    workflow_version: int | None = None
    input: dict[str, Any] = {}
    output: dict[str, Any] = {}
    variables: dict[str, Any] = {}
    priority: int = 0
    create_time: int = 0
    update_time: int = 0
    reason_for_incompletion: str | None = None
    created_by: str | None = None
    tasks: list[Task] = []


class WorkflowStatusSummary(msgspec.Struct, rename="camel", kw_only=True):
    """``GET /api/workflow/{id}/status``: a run's status without its tasks."""

    workflow_id: str
    status: WorkflowStatus
    correlation_id: str | None = None
    output: dict[str, Any] = {}
    variables: dict[str, Any] = {}


class SearchResult(msgspec.Struct, Generic[T], rename="camel", kw_only=True):
    """Conductor's ``SearchResult``: one page of hits and how many there are in all (see the server's cap)."""

    total_hits: int = 0
    results: list[T] = []


class ExecuteResult(NamedTuple):
    """A synchronous execute's answer; ``complete`` is False when the wait ran out first (HTTP 206)."""

    run: WorkflowRun
    complete: bool


# --- the routes, described once -------------------------------------------------------------

_TRANSIENT_STATUS = frozenset({502, 503, 504})


@dataclass(frozen=True, kw_only=True)
class _Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    extra_timeout: float = 0.0


def _seg(value: str) -> str:
    """A path segment, escaped (task types and names may hold ``/`` or spaces)."""
    return quote(value, safe="")


def _flag(value: bool) -> str:
    return "true" if value else "false"


def _encode(value: object) -> bytes:
    return msgspec.json.encode(value)


def _none(_: httpx.Response) -> None:
    return None


def _text(response: httpx.Response) -> str:
    """A text answer (an id). Conductor sends ``text/plain``; a JSON string is accepted too."""
    text = response.text
    if "json" in response.headers.get("content-type", ""):
        try:
            decoded = json.loads(text)
        except ValueError:
            return text
        if isinstance(decoded, str):
            return decoded
    return text.strip()


def _json(kind: type[T]) -> Callable[[httpx.Response], T]:
    def parse(response: httpx.Response) -> T:
        return msgspec.json.decode(response.content, type=kind)

    return parse


def _optional_task(response: httpx.Response) -> Task | None:
    """A task, or None for 204 or an empty body (nothing to hand out)."""
    if response.status_code == 204 or not response.content.strip():
        return None
    decoded = msgspec.json.decode(response.content, type=Task | None)
    return decoded


def _tasks(response: httpx.Response) -> list[Task]:
    if response.status_code == 204 or not response.content.strip():
        return []
    return msgspec.json.decode(response.content, type=list[Task])


def _execute(response: httpx.Response) -> ExecuteResult:
    run = msgspec.json.decode(response.content, type=WorkflowRun)
    return ExecuteResult(run=run, complete=response.status_code != 206)


def _idempotency_headers(key: str | None, on_conflict: IdempotencyStrategy | str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if key is not None:
        headers["X-Idempotency-key"] = key
    if on_conflict is not None:
        headers["X-on-conflict"] = IdempotencyStrategy(on_conflict).value
    return headers


def _error(response: httpx.Response) -> BatonApiError:
    """Read Conductor's error body ``{"status", "message", "validationErrors"}``, else the raw text."""
    text = response.text
    message: str | None = None
    errors: list[FieldError] = []
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        raw_message = body.get("message") or body.get("error")
        message = str(raw_message) if raw_message is not None else None
        for item in body.get("validationErrors") or []:
            if isinstance(item, dict):
                errors.append(FieldError(str(item.get("path", "")), str(item.get("message", ""))))
    elif text:
        message = text.strip()[:500]
    return BatonApiError(response.status_code, message, errors, body=text)


class _Routes:
    """Builds a ``_Call`` per route; shared by the sync and async clients."""

    # metadata: workflow definitions

    @staticmethod
    def register_workflow(defn: WorkflowDef, overwrite: bool) -> _Call[None]:
        params = [("overwrite", "true")] if overwrite else []
        return _Call(method="POST", path="/api/metadata/workflow", params=params, body=_encode(defn), parse=_none)

    @staticmethod
    def update_workflows(defs: Sequence[WorkflowDef]) -> _Call[None]:
        return _Call(method="PUT", path="/api/metadata/workflow", body=_encode(list(defs)), parse=_none)

    @staticmethod
    def get_workflow_def(name: str, version: int | None) -> _Call[WorkflowDef]:
        params = [("version", str(version))] if version is not None else []
        return _Call(
            method="GET",
            path=f"/api/metadata/workflow/{_seg(name)}",
            params=params,
            parse=_json(WorkflowDef),
        )

    @staticmethod
    def list_workflow_defs() -> _Call[list[WorkflowDef]]:
        return _Call(method="GET", path="/api/metadata/workflow", parse=_json(list[WorkflowDef]))

    @staticmethod
    def unregister_workflow(name: str, version: int) -> _Call[None]:
        return _Call(method="DELETE", path=f"/api/metadata/workflow/{_seg(name)}/{version}", parse=_none)

    # metadata: task definitions

    @staticmethod
    def register_task_defs(defs: Sequence[TaskDef]) -> _Call[None]:
        return _Call(method="POST", path="/api/metadata/taskdefs", body=_encode(list(defs)), parse=_none)

    @staticmethod
    def update_task_def(defn: TaskDef) -> _Call[None]:
        return _Call(method="PUT", path="/api/metadata/taskdefs", body=_encode(defn), parse=_none)

    @staticmethod
    def get_task_def(name: str) -> _Call[TaskDef]:
        return _Call(method="GET", path=f"/api/metadata/taskdefs/{_seg(name)}", parse=_json(TaskDef))

    @staticmethod
    def list_task_defs() -> _Call[list[TaskDef]]:
        return _Call(method="GET", path="/api/metadata/taskdefs", parse=_json(list[TaskDef]))

    @staticmethod
    def unregister_task_def(name: str) -> _Call[None]:
        return _Call(method="DELETE", path=f"/api/metadata/taskdefs/{_seg(name)}", parse=_none)

    # runs

    @staticmethod
    def start_workflow(
        name: str,
        input: Mapping[str, Any] | None,
        version: int | None,
        correlation_id: str | None,
        priority: int | None,
        idempotency_key: str | None,
        on_conflict: IdempotencyStrategy | str | None,
    ) -> _Call[str]:
        params: list[tuple[str, str]] = []
        if version is not None:
            params.append(("version", str(version)))
        if correlation_id is not None:
            params.append(("correlationId", correlation_id))
        if priority is not None:
            params.append(("priority", str(priority)))
        return _Call(
            method="POST",
            path=f"/api/workflow/{_seg(name)}",
            params=params,
            headers=_idempotency_headers(idempotency_key, on_conflict),
            body=_encode(dict(input or {})),
            parse=_text,
        )

    @staticmethod
    def start(
        request: StartWorkflowRequest,
        idempotency_key: str | None,
        on_conflict: IdempotencyStrategy | str | None,
    ) -> _Call[str]:
        return _Call(
            method="POST",
            path="/api/workflow",
            headers=_idempotency_headers(idempotency_key, on_conflict),
            body=_encode(request),
            parse=_text,
        )

    @staticmethod
    def execute(
        request: StartWorkflowRequest,
        wait_for_seconds: int | None,
        wait_until_task_ref: str | None,
        request_id: str | None,
        idempotency_key: str | None,
        on_conflict: IdempotencyStrategy | str | None,
    ) -> _Call[ExecuteResult]:
        if not request.name:
            raise ValueError("execute needs the workflow's name")
        path = f"/api/workflow/execute/{_seg(request.name)}"
        if request.version is not None:
            path += f"/{request.version}"
        # Query parameters, as Conductor's own clients send them.
        params: list[tuple[str, str]] = []
        if request_id is not None:
            params.append(("requestId", request_id))
        if wait_until_task_ref is not None:
            params.append(("waitUntilTaskRef", wait_until_task_ref))
        if wait_for_seconds is not None:
            params.append(("waitForSeconds", str(wait_for_seconds)))
        return _Call(
            method="POST",
            path=path,
            params=params,
            headers=_idempotency_headers(idempotency_key, on_conflict),
            body=_encode(request),
            parse=_execute,
            extra_timeout=float(wait_for_seconds if wait_for_seconds is not None else 10),
        )

    @staticmethod
    def get_workflow(workflow_id: str, include_tasks: bool) -> _Call[Workflow]:
        return _Call(
            method="GET",
            path=f"/api/workflow/{_seg(workflow_id)}",
            params=[("includeTasks", _flag(include_tasks))],
            parse=_json(Workflow),
        )

    @staticmethod
    def get_workflow_status(workflow_id: str) -> _Call[WorkflowStatusSummary]:
        return _Call(
            method="GET",
            path=f"/api/workflow/{_seg(workflow_id)}/status",
            parse=_json(WorkflowStatusSummary),
        )

    @staticmethod
    def get_by_correlation_id(
        name: str, correlation_id: str, include_closed: bool, include_tasks: bool
    ) -> _Call[list[Workflow]]:
        return _Call(
            method="GET",
            path=f"/api/workflow/{_seg(name)}/correlated/{_seg(correlation_id)}",
            params=[("includeClosed", _flag(include_closed)), ("includeTasks", _flag(include_tasks))],
            parse=_json(list[Workflow]),
        )

    # search

    @staticmethod
    def search(
        path: str, kind: type[T], query: str | None, free_text: str | None, start: int, size: int, sort: str | None
    ) -> _Call[SearchResult[T]]:
        params = [("start", str(start)), ("size", str(size))]
        for name, value in (("query", query), ("freeText", free_text), ("sort", sort)):
            if value is not None:
                params.append((name, value))
        return _Call(method="GET", path=path, params=params, parse=_json(SearchResult[kind]))  # type: ignore[valid-type]

    @staticmethod
    def running_workflows(
        name: str, version: int | None, start_time: int | None, end_time: int | None
    ) -> _Call[list[str]]:
        params = [
            (key, str(value))
            for key, value in (("version", version), ("startTime", start_time), ("endTime", end_time))
            if value is not None
        ]
        return _Call(method="GET", path=f"/api/workflow/running/{_seg(name)}", params=params, parse=_json(list[str]))

    @staticmethod
    def terminate(workflow_id: str, reason: str | None) -> _Call[None]:
        params = [("reason", reason)] if reason is not None else []
        return _Call(method="DELETE", path=f"/api/workflow/{_seg(workflow_id)}", params=params, parse=_none)

    @staticmethod
    def remove(workflow_id: str) -> _Call[None]:
        return _Call(method="DELETE", path=f"/api/workflow/{_seg(workflow_id)}/remove", parse=_none)

    # an operator's operations

    @staticmethod
    def pause(workflow_id: str) -> _Call[None]:
        return _Call(method="PUT", path=f"/api/workflow/{_seg(workflow_id)}/pause", parse=_none)

    @staticmethod
    def resume(workflow_id: str) -> _Call[None]:
        return _Call(method="PUT", path=f"/api/workflow/{_seg(workflow_id)}/resume", parse=_none)

    @staticmethod
    def restart(workflow_id: str, use_latest_definitions: bool) -> _Call[None]:
        return _Call(
            method="POST",
            path=f"/api/workflow/{_seg(workflow_id)}/restart",
            params=[("useLatestDefinitions", _flag(use_latest_definitions))],
            parse=_none,
        )

    @staticmethod
    def retry(workflow_id: str, resume_subworkflow_tasks: bool) -> _Call[None]:
        return _Call(
            method="POST",
            path=f"/api/workflow/{_seg(workflow_id)}/retry",
            params=[("resumeSubworkflowTasks", _flag(resume_subworkflow_tasks))],
            parse=_none,
        )

    @staticmethod
    def rerun(workflow_id: str, request: RerunWorkflowRequest) -> _Call[str]:
        return _Call(method="POST", path=f"/api/workflow/{_seg(workflow_id)}/rerun", body=_encode(request), parse=_text)

    @staticmethod
    def skip_task(workflow_id: str, task_ref_name: str, request: SkipTaskRequest) -> _Call[None]:
        return _Call(
            method="PUT",
            path=f"/api/workflow/{_seg(workflow_id)}/skiptask/{_seg(task_ref_name)}",
            body=_encode(request),
            parse=_none,
        )

    @staticmethod
    def update_variables(workflow_id: str, variables: Mapping[str, Any]) -> _Call[Workflow]:
        return _Call(
            method="POST",
            path=f"/api/workflow/{_seg(workflow_id)}/variables",
            body=_encode(dict(variables)),
            parse=_json(Workflow),
        )

    @staticmethod
    def decide(workflow_id: str) -> _Call[None]:
        return _Call(method="PUT", path=f"/api/workflow/decide/{_seg(workflow_id)}", parse=_none)

    @staticmethod
    def bulk(
        method: str, operation: str, workflow_ids: Sequence[str], params: list[tuple[str, str]] | None = None
    ) -> _Call[BulkResponse]:
        return _Call(
            method=method,
            path=f"/api/workflow/bulk/{operation}",
            params=params or [],
            body=_encode(list(workflow_ids)),
            parse=_json(BulkResponse),
        )

    # tasks

    @staticmethod
    def poll(task_type: str, worker_id: str, count: int, timeout_ms: int, domain: str | None) -> _Call[list[Task]]:
        params = [("workerid", worker_id), ("count", str(count)), ("timeout", str(timeout_ms))]
        if domain:
            params.append(("domain", domain))
        return _Call(
            method="GET",
            path=f"/api/tasks/poll/batch/{_seg(task_type)}",
            params=params,
            parse=_tasks,
            extra_timeout=timeout_ms / 1000,
        )

    @staticmethod
    def poll_one(task_type: str, worker_id: str, domain: str | None) -> _Call[Task | None]:
        params = [("workerid", worker_id)]
        if domain:
            params.append(("domain", domain))
        return _Call(
            method="GET",
            path=f"/api/tasks/poll/{_seg(task_type)}",
            params=params,
            parse=_optional_task,
        )

    @staticmethod
    def update_task(result: TaskResult) -> _Call[str]:
        return _Call(method="POST", path="/api/tasks", body=_encode(result), parse=_text)

    @staticmethod
    def update_task_v2(result: TaskResult) -> _Call[Task | None]:
        return _Call(method="POST", path="/api/tasks/update-v2", body=_encode(result), parse=_optional_task)

    @staticmethod
    def get_task(task_id: str) -> _Call[Task]:
        return _Call(method="GET", path=f"/api/tasks/{_seg(task_id)}", parse=_json(Task))

    @staticmethod
    def queue_sizes(task_types: Sequence[str]) -> _Call[dict[str, int]]:
        return _Call(
            method="GET",
            path="/api/tasks/queue/sizes",
            params=[("taskType", t) for t in task_types],
            parse=_json(dict[str, int]),
        )

    @staticmethod
    def complete_task_by_ref(
        workflow_id: str,
        task_ref_name: str,
        status: TaskResultStatus | TaskStatus | str,
        output: Mapping[str, Any] | None,
        worker_id: str | None,
    ) -> _Call[str]:
        params = [("workerid", worker_id)] if worker_id is not None else []
        status_value = status.value if isinstance(status, TaskResultStatus | TaskStatus) else str(status)
        return _Call(
            method="POST",
            path=f"/api/tasks/{_seg(workflow_id)}/{_seg(task_ref_name)}/{_seg(status_value)}",
            params=params,
            body=_encode(dict(output or {})),
            parse=_text,
        )

    @staticmethod
    def add_task_log(task_id: str, line: str) -> _Call[None]:
        return _Call(method="POST", path=f"/api/tasks/{_seg(task_id)}/log", body=_encode(line), parse=_none)

    @staticmethod
    def get_task_logs(task_id: str) -> _Call[list[TaskExecLog]]:
        return _Call(method="GET", path=f"/api/tasks/{_seg(task_id)}/log", parse=_json(list[TaskExecLog]))

    @staticmethod
    def health() -> _Call[bool]:
        return _Call(method="GET", path="/health", parse=lambda r: True)


def _start_request(
    name: str,
    input: Mapping[str, Any] | None,
    version: int | None,
    correlation_id: str | None,
    priority: int | None,
) -> StartWorkflowRequest:
    return StartWorkflowRequest(
        name=name,
        version=version,
        input=dict(input or {}),
        correlation_id=correlation_id,
        priority=priority or 0,
    )


def _timeout(base: httpx.Timeout, extra: float) -> httpx.Timeout:
    if not extra:
        return base
    read = base.read + extra if base.read is not None else None
    return httpx.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)


def _base_url(url: str) -> str:
    url = url.rstrip("/")
    # Accept a Conductor-style ".../api" server URL as well as the bare base URL.
    return url.removesuffix("/api")


# --- the clients ----------------------------------------------------------------------------


class BatonClient:
    """A synchronous client for a Baton (or Conductor) server.

    ``base_url`` is the server's root, such as ``http://127.0.0.1:8080`` (a URL
    ending in ``/api`` is accepted too). ``headers`` are sent with every request,
    for example an API key. The client is thread-safe and keeps connections
    alive; close it, or use it as a context manager.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = _base_url(base_url)
        self._timeout = httpx.Timeout(timeout)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=self._timeout,
            headers={"Accept": "application/json, text/plain, */*", **(headers or {})},
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _send(self, call: _Call[T]) -> T:
        headers = dict(call.headers)
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self._http.request(
                call.method,
                call.path,
                params=tuple(call.params),
                headers=headers,
                content=call.body,
                timeout=_timeout(self._timeout, call.extra_timeout),
            )
        except httpx.TransportError as exc:
            raise BatonConnectionError(f"{call.method} {call.path}: {exc!r}") from exc
        if response.status_code >= 400:
            raise _error(response)
        return call.parse(response)

    def health(self) -> bool:
        """True when the server answers ``GET /health`` with a 2xx."""
        return self._send(_Routes.health())

    # metadata

    def register_workflow(self, defn: WorkflowDef, *, overwrite: bool = False) -> None:
        """Register a workflow definition (``POST /api/metadata/workflow``)."""
        self._send(_Routes.register_workflow(defn, overwrite))

    def update_workflows(self, defs: Sequence[WorkflowDef]) -> None:
        """Create or replace definitions (``PUT /api/metadata/workflow``)."""
        self._send(_Routes.update_workflows(defs))

    def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef:
        """A definition; the latest version unless ``version`` is given."""
        return self._send(_Routes.get_workflow_def(name, version))

    def list_workflow_defs(self) -> list[WorkflowDef]:
        return self._send(_Routes.list_workflow_defs())

    def unregister_workflow(self, name: str, version: int) -> None:
        self._send(_Routes.unregister_workflow(name, version))

    def register_task_defs(self, defs: Sequence[TaskDef]) -> None:
        """Register task definitions (``POST /api/metadata/taskdefs``)."""
        self._send(_Routes.register_task_defs(defs))

    def update_task_def(self, defn: TaskDef) -> None:
        """Create or replace one task definition (``PUT /api/metadata/taskdefs``)."""
        self._send(_Routes.update_task_def(defn))

    def get_task_def(self, name: str) -> TaskDef:
        return self._send(_Routes.get_task_def(name))

    def list_task_defs(self) -> list[TaskDef]:
        return self._send(_Routes.list_task_defs())

    def unregister_task_def(self, name: str) -> None:
        self._send(_Routes.unregister_task_def(name))

    # runs

    def start_workflow(
        self,
        name: str,
        input: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        correlation_id: str | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
        on_conflict: IdempotencyStrategy | str | None = None,
    ) -> str:
        """Start a run by name (``POST /api/workflow/{name}``) and return its id."""
        return self._send(
            _Routes.start_workflow(name, input, version, correlation_id, priority, idempotency_key, on_conflict)
        )

    def start(
        self,
        request: StartWorkflowRequest,
        *,
        idempotency_key: str | None = None,
        on_conflict: IdempotencyStrategy | str | None = None,
    ) -> str:
        """Start a run from a ``StartWorkflowRequest`` (``POST /api/workflow``) and return its id."""
        return self._send(_Routes.start(request, idempotency_key, on_conflict))

    def execute_workflow(
        self,
        name: str,
        input: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        correlation_id: str | None = None,
        priority: int | None = None,
        wait_for_seconds: int | None = None,
        wait_until_task_ref: str | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        on_conflict: IdempotencyStrategy | str | None = None,
    ) -> ExecuteResult:
        """Start a run and wait for it (``POST /api/workflow/execute/{name}[/{version}]``).

        Returns the run and whether it ended (200) or the wait ran out first (206).
        """
        request = _start_request(name, input, version, correlation_id, priority)
        return self.execute(
            request,
            wait_for_seconds=wait_for_seconds,
            wait_until_task_ref=wait_until_task_ref,
            request_id=request_id,
            idempotency_key=idempotency_key,
            on_conflict=on_conflict,
        )

    def execute(
        self,
        request: StartWorkflowRequest,
        *,
        wait_for_seconds: int | None = None,
        wait_until_task_ref: str | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        on_conflict: IdempotencyStrategy | str | None = None,
    ) -> ExecuteResult:
        """``execute_workflow`` for a full ``StartWorkflowRequest``."""
        return self._send(
            _Routes.execute(request, wait_for_seconds, wait_until_task_ref, request_id, idempotency_key, on_conflict)
        )

    def get_workflow(self, workflow_id: str, *, include_tasks: bool = True) -> Workflow:
        return self._send(_Routes.get_workflow(workflow_id, include_tasks))

    def get_workflow_status(self, workflow_id: str) -> WorkflowStatusSummary:
        return self._send(_Routes.get_workflow_status(workflow_id))

    def get_workflows_by_correlation_id(
        self,
        name: str,
        correlation_id: str,
        *,
        include_closed: bool = False,
        include_tasks: bool = False,
    ) -> list[Workflow]:
        return self._send(_Routes.get_by_correlation_id(name, correlation_id, include_closed, include_tasks))

    def search_workflows(
        self,
        query: str | None = None,
        *,
        free_text: str | None = "*",
        start: int = 0,
        size: int = 100,
        sort: str | None = None,
    ) -> SearchResult[WorkflowSummary]:
        """``GET /api/workflow/search``: e.g. ``query="workflowType IN (a,b) AND status = FAILED"``."""
        return self._send(_Routes.search("/api/workflow/search", WorkflowSummary, query, free_text, start, size, sort))

    def search_tasks(
        self,
        query: str | None = None,
        *,
        free_text: str | None = "*",
        start: int = 0,
        size: int = 100,
        sort: str | None = None,
    ) -> SearchResult[TaskSummary]:
        """``GET /api/tasks/search``: e.g. ``query="taskType = charge AND status = FAILED"``."""
        return self._send(_Routes.search("/api/tasks/search", TaskSummary, query, free_text, start, size, sort))

    def get_running_workflows(
        self, name: str, *, version: int | None = None, start_time: int | None = None, end_time: int | None = None
    ) -> list[str]:
        """Ids of the RUNNING runs of ``name`` (every version unless one is given), oldest first."""
        return self._send(_Routes.running_workflows(name, version, start_time, end_time))

    def terminate(self, workflow_id: str, reason: str | None = None) -> None:
        """Terminate a running run (``DELETE /api/workflow/{id}``)."""
        self._send(_Routes.terminate(workflow_id, reason))

    def remove(self, workflow_id: str) -> None:
        """Delete a run and its tasks (``DELETE /api/workflow/{id}/remove``)."""
        self._send(_Routes.remove(workflow_id))

    # an operator's operations

    def pause(self, workflow_id: str) -> None:
        """Pause a run: it schedules nothing new until resumed (``PUT /api/workflow/{id}/pause``)."""
        self._send(_Routes.pause(workflow_id))

    def resume(self, workflow_id: str) -> None:
        """Resume a paused run (``PUT /api/workflow/{id}/resume``)."""
        self._send(_Routes.resume(workflow_id))

    def restart(self, workflow_id: str, *, use_latest_definitions: bool = False) -> None:
        """Run an ended run again from its start, same id (``POST /api/workflow/{id}/restart``)."""
        self._send(_Routes.restart(workflow_id, use_latest_definitions))

    def retry(self, workflow_id: str, *, resume_subworkflow_tasks: bool = False) -> None:
        """A new attempt of the failed steps of a failed run (``POST /api/workflow/{id}/retry``)."""
        self._send(_Routes.retry(workflow_id, resume_subworkflow_tasks))

    def rerun(self, workflow_id: str, request: RerunWorkflowRequest | None = None) -> str:
        """Run an ended run again from a task (or its start) with new input; returns its id."""
        return self._send(
            _Routes.rerun(workflow_id, request or RerunWorkflowRequest(re_run_from_workflow_id=workflow_id))
        )

    def skip_task(self, workflow_id: str, task_ref_name: str, request: SkipTaskRequest | None = None) -> None:
        """Mark a step SKIPPED, now or when it is reached (``PUT /api/workflow/{id}/skiptask/{ref}``)."""
        self._send(_Routes.skip_task(workflow_id, task_ref_name, request or SkipTaskRequest()))

    def update_variables(self, workflow_id: str, variables: Mapping[str, Any]) -> Workflow:
        """Merge variables into a run's; returns the run (``POST /api/workflow/{id}/variables``)."""
        return self._send(_Routes.update_variables(workflow_id, variables))

    def decide(self, workflow_id: str) -> None:
        """Advance a run as far as it goes now (``PUT /api/workflow/decide/{id}``)."""
        self._send(_Routes.decide(workflow_id))

    def bulk_pause(self, workflow_ids: Sequence[str]) -> BulkResponse:
        return self._send(_Routes.bulk("PUT", "pause", workflow_ids))

    def bulk_resume(self, workflow_ids: Sequence[str]) -> BulkResponse:
        return self._send(_Routes.bulk("PUT", "resume", workflow_ids))

    def bulk_restart(self, workflow_ids: Sequence[str], *, use_latest_definitions: bool = False) -> BulkResponse:
        params = [("useLatestDefinitions", _flag(use_latest_definitions))]
        return self._send(_Routes.bulk("POST", "restart", workflow_ids, params))

    def bulk_retry(self, workflow_ids: Sequence[str]) -> BulkResponse:
        return self._send(_Routes.bulk("POST", "retry", workflow_ids))

    def bulk_terminate(self, workflow_ids: Sequence[str], *, reason: str | None = None) -> BulkResponse:
        params = [("reason", reason)] if reason is not None else []
        return self._send(_Routes.bulk("POST", "terminate", workflow_ids, params))

    # tasks

    def poll(
        self,
        task_type: str,
        worker_id: str,
        count: int = 1,
        timeout_ms: int = 100,
        *,
        domain: str | None = None,
    ) -> list[Task]:
        """Claim up to ``count`` tasks, waiting up to ``timeout_ms`` for the first (batch long poll)."""
        return self._send(_Routes.poll(task_type, worker_id, count, timeout_ms, domain))

    def poll_one(self, task_type: str, worker_id: str, *, domain: str | None = None) -> Task | None:
        """Claim one task, or None when there is none (``GET /api/tasks/poll/{taskType}``)."""
        return self._send(_Routes.poll_one(task_type, worker_id, domain))

    def update_task(self, result: TaskResult) -> str:
        """Report a task's result (``POST /api/tasks``); returns the task id."""
        return self._send(_Routes.update_task(result))

    def update_task_v2(self, result: TaskResult) -> Task | None:
        """Report a result and claim the next task of that type for that worker, if any."""
        return self._send(_Routes.update_task_v2(result))

    def get_task(self, task_id: str) -> Task:
        return self._send(_Routes.get_task(task_id))

    def queue_sizes(self, task_types: str | Sequence[str]) -> dict[str, int]:
        """Tasks waiting per task type."""
        types = [task_types] if isinstance(task_types, str) else list(task_types)
        return self._send(_Routes.queue_sizes(types))

    def complete_task_by_ref(
        self,
        workflow_id: str,
        task_ref_name: str,
        status: TaskResultStatus | TaskStatus | str = TaskResultStatus.COMPLETED,
        output: Mapping[str, Any] | None = None,
        *,
        worker_id: str | None = None,
    ) -> str:
        """Set the status of a run's pending task by reference name; returns the task id."""
        return self._send(_Routes.complete_task_by_ref(workflow_id, task_ref_name, status, output, worker_id))

    def add_task_log(self, task_id: str, line: str) -> None:
        """Append a line to a task's log (``POST /api/tasks/{taskId}/log``)."""
        self._send(_Routes.add_task_log(task_id, line))

    def get_task_logs(self, task_id: str) -> list[TaskExecLog]:
        return self._send(_Routes.get_task_logs(task_id))


class AsyncBatonClient:
    """The asyncio twin of ``BatonClient``: the same methods, awaited."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = _base_url(base_url)
        self._timeout = httpx.Timeout(timeout)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self._timeout,
            headers={"Accept": "application/json, text/plain, */*", **(headers or {})},
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(self, call: _Call[T]) -> T:
        headers = dict(call.headers)
        if call.body is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(
                call.method,
                call.path,
                params=tuple(call.params),
                headers=headers,
                content=call.body,
                timeout=_timeout(self._timeout, call.extra_timeout),
            )
        except httpx.TransportError as exc:
            raise BatonConnectionError(f"{call.method} {call.path}: {exc!r}") from exc
        if response.status_code >= 400:
            raise _error(response)
        return call.parse(response)

    async def health(self) -> bool:
        return await self._send(_Routes.health())

    async def register_workflow(self, defn: WorkflowDef, *, overwrite: bool = False) -> None:
        await self._send(_Routes.register_workflow(defn, overwrite))

    async def update_workflows(self, defs: Sequence[WorkflowDef]) -> None:
        await self._send(_Routes.update_workflows(defs))

    async def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef:
        return await self._send(_Routes.get_workflow_def(name, version))

    async def list_workflow_defs(self) -> list[WorkflowDef]:
        return await self._send(_Routes.list_workflow_defs())

    async def unregister_workflow(self, name: str, version: int) -> None:
        await self._send(_Routes.unregister_workflow(name, version))

    async def register_task_defs(self, defs: Sequence[TaskDef]) -> None:
        await self._send(_Routes.register_task_defs(defs))

    async def update_task_def(self, defn: TaskDef) -> None:
        await self._send(_Routes.update_task_def(defn))

    async def get_task_def(self, name: str) -> TaskDef:
        return await self._send(_Routes.get_task_def(name))

    async def list_task_defs(self) -> list[TaskDef]:
        return await self._send(_Routes.list_task_defs())

    async def unregister_task_def(self, name: str) -> None:
        await self._send(_Routes.unregister_task_def(name))

    async def start_workflow(
        self,
        name: str,
        input: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        correlation_id: str | None = None,
        priority: int | None = None,
        idempotency_key: str | None = None,
        on_conflict: IdempotencyStrategy | str | None = None,
    ) -> str:
        return await self._send(
            _Routes.start_workflow(name, input, version, correlation_id, priority, idempotency_key, on_conflict)
        )

    async def start(
        self,
        request: StartWorkflowRequest,
        *,
        idempotency_key: str | None = None,
        on_conflict: IdempotencyStrategy | str | None = None,
    ) -> str:
        return await self._send(_Routes.start(request, idempotency_key, on_conflict))

    async def execute_workflow(
        self,
        name: str,
        input: Mapping[str, Any] | None = None,
        *,
        version: int | None = None,
        correlation_id: str | None = None,
        priority: int | None = None,
        wait_for_seconds: int | None = None,
        wait_until_task_ref: str | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        on_conflict: IdempotencyStrategy | str | None = None,
    ) -> ExecuteResult:
        request = _start_request(name, input, version, correlation_id, priority)
        return await self.execute(
            request,
            wait_for_seconds=wait_for_seconds,
            wait_until_task_ref=wait_until_task_ref,
            request_id=request_id,
            idempotency_key=idempotency_key,
            on_conflict=on_conflict,
        )

    async def execute(
        self,
        request: StartWorkflowRequest,
        *,
        wait_for_seconds: int | None = None,
        wait_until_task_ref: str | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        on_conflict: IdempotencyStrategy | str | None = None,
    ) -> ExecuteResult:
        return await self._send(
            _Routes.execute(request, wait_for_seconds, wait_until_task_ref, request_id, idempotency_key, on_conflict)
        )

    async def get_workflow(self, workflow_id: str, *, include_tasks: bool = True) -> Workflow:
        return await self._send(_Routes.get_workflow(workflow_id, include_tasks))

    async def get_workflow_status(self, workflow_id: str) -> WorkflowStatusSummary:
        return await self._send(_Routes.get_workflow_status(workflow_id))

    async def get_workflows_by_correlation_id(
        self,
        name: str,
        correlation_id: str,
        *,
        include_closed: bool = False,
        include_tasks: bool = False,
    ) -> list[Workflow]:
        return await self._send(_Routes.get_by_correlation_id(name, correlation_id, include_closed, include_tasks))

    async def search_workflows(
        self,
        query: str | None = None,
        *,
        free_text: str | None = "*",
        start: int = 0,
        size: int = 100,
        sort: str | None = None,
    ) -> SearchResult[WorkflowSummary]:
        return await self._send(
            _Routes.search("/api/workflow/search", WorkflowSummary, query, free_text, start, size, sort)
        )

    async def search_tasks(
        self,
        query: str | None = None,
        *,
        free_text: str | None = "*",
        start: int = 0,
        size: int = 100,
        sort: str | None = None,
    ) -> SearchResult[TaskSummary]:
        return await self._send(_Routes.search("/api/tasks/search", TaskSummary, query, free_text, start, size, sort))

    async def get_running_workflows(
        self, name: str, *, version: int | None = None, start_time: int | None = None, end_time: int | None = None
    ) -> list[str]:
        return await self._send(_Routes.running_workflows(name, version, start_time, end_time))

    async def terminate(self, workflow_id: str, reason: str | None = None) -> None:
        await self._send(_Routes.terminate(workflow_id, reason))

    async def remove(self, workflow_id: str) -> None:
        await self._send(_Routes.remove(workflow_id))

    async def pause(self, workflow_id: str) -> None:
        await self._send(_Routes.pause(workflow_id))

    async def resume(self, workflow_id: str) -> None:
        await self._send(_Routes.resume(workflow_id))

    async def restart(self, workflow_id: str, *, use_latest_definitions: bool = False) -> None:
        await self._send(_Routes.restart(workflow_id, use_latest_definitions))

    async def retry(self, workflow_id: str, *, resume_subworkflow_tasks: bool = False) -> None:
        await self._send(_Routes.retry(workflow_id, resume_subworkflow_tasks))

    async def rerun(self, workflow_id: str, request: RerunWorkflowRequest | None = None) -> str:
        request = request or RerunWorkflowRequest(re_run_from_workflow_id=workflow_id)
        return await self._send(_Routes.rerun(workflow_id, request))

    async def skip_task(self, workflow_id: str, task_ref_name: str, request: SkipTaskRequest | None = None) -> None:
        await self._send(_Routes.skip_task(workflow_id, task_ref_name, request or SkipTaskRequest()))

    async def update_variables(self, workflow_id: str, variables: Mapping[str, Any]) -> Workflow:
        return await self._send(_Routes.update_variables(workflow_id, variables))

    async def decide(self, workflow_id: str) -> None:
        await self._send(_Routes.decide(workflow_id))

    async def bulk_pause(self, workflow_ids: Sequence[str]) -> BulkResponse:
        return await self._send(_Routes.bulk("PUT", "pause", workflow_ids))

    async def bulk_resume(self, workflow_ids: Sequence[str]) -> BulkResponse:
        return await self._send(_Routes.bulk("PUT", "resume", workflow_ids))

    async def bulk_restart(self, workflow_ids: Sequence[str], *, use_latest_definitions: bool = False) -> BulkResponse:
        params = [("useLatestDefinitions", _flag(use_latest_definitions))]
        return await self._send(_Routes.bulk("POST", "restart", workflow_ids, params))

    async def bulk_retry(self, workflow_ids: Sequence[str]) -> BulkResponse:
        return await self._send(_Routes.bulk("POST", "retry", workflow_ids))

    async def bulk_terminate(self, workflow_ids: Sequence[str], *, reason: str | None = None) -> BulkResponse:
        params = [("reason", reason)] if reason is not None else []
        return await self._send(_Routes.bulk("POST", "terminate", workflow_ids, params))

    async def poll(
        self,
        task_type: str,
        worker_id: str,
        count: int = 1,
        timeout_ms: int = 100,
        *,
        domain: str | None = None,
    ) -> list[Task]:
        return await self._send(_Routes.poll(task_type, worker_id, count, timeout_ms, domain))

    async def poll_one(self, task_type: str, worker_id: str, *, domain: str | None = None) -> Task | None:
        return await self._send(_Routes.poll_one(task_type, worker_id, domain))

    async def update_task(self, result: TaskResult) -> str:
        return await self._send(_Routes.update_task(result))

    async def update_task_v2(self, result: TaskResult) -> Task | None:
        return await self._send(_Routes.update_task_v2(result))

    async def get_task(self, task_id: str) -> Task:
        return await self._send(_Routes.get_task(task_id))

    async def queue_sizes(self, task_types: str | Sequence[str]) -> dict[str, int]:
        types = [task_types] if isinstance(task_types, str) else list(task_types)
        return await self._send(_Routes.queue_sizes(types))

    async def complete_task_by_ref(
        self,
        workflow_id: str,
        task_ref_name: str,
        status: TaskResultStatus | TaskStatus | str = TaskResultStatus.COMPLETED,
        output: Mapping[str, Any] | None = None,
        *,
        worker_id: str | None = None,
    ) -> str:
        return await self._send(_Routes.complete_task_by_ref(workflow_id, task_ref_name, status, output, worker_id))

    async def add_task_log(self, task_id: str, line: str) -> None:
        await self._send(_Routes.add_task_log(task_id, line))

    async def get_task_logs(self, task_id: str) -> list[TaskExecLog]:
        return await self._send(_Routes.get_task_logs(task_id))
