"""Every route of the REST API, described once as a ``Call``, and how each answer is read."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

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
)
from baton.sdk.client.calls import Call, flag
from baton.sdk.client.results import ExecuteResult, SearchResult, WorkflowRun, WorkflowStatusSummary

__all__ = ["Routes", "start_request"]

T = TypeVar("T")


def _seg(value: str) -> str:
    """A path segment, escaped (task types and names may hold ``/`` or spaces)."""
    return quote(value, safe="")


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


class Routes:
    """Builds a ``Call`` per route; shared by the sync and async clients."""

    # metadata: workflow definitions

    @staticmethod
    def register_workflow(defn: WorkflowDef, overwrite: bool) -> Call[None]:
        params = [("overwrite", "true")] if overwrite else []
        return Call(method="POST", path="/api/metadata/workflow", params=params, body=_encode(defn), parse=_none)

    @staticmethod
    def update_workflows(defs: Sequence[WorkflowDef]) -> Call[None]:
        return Call(method="PUT", path="/api/metadata/workflow", body=_encode(list(defs)), parse=_none)

    @staticmethod
    def get_workflow_def(name: str, version: int | None) -> Call[WorkflowDef]:
        params = [("version", str(version))] if version is not None else []
        return Call(
            method="GET",
            path=f"/api/metadata/workflow/{_seg(name)}",
            params=params,
            parse=_json(WorkflowDef),
        )

    @staticmethod
    def list_workflow_defs() -> Call[list[WorkflowDef]]:
        return Call(method="GET", path="/api/metadata/workflow", parse=_json(list[WorkflowDef]))

    @staticmethod
    def unregister_workflow(name: str, version: int) -> Call[None]:
        return Call(method="DELETE", path=f"/api/metadata/workflow/{_seg(name)}/{version}", parse=_none)

    # metadata: task definitions

    @staticmethod
    def register_task_defs(defs: Sequence[TaskDef]) -> Call[None]:
        return Call(method="POST", path="/api/metadata/taskdefs", body=_encode(list(defs)), parse=_none)

    @staticmethod
    def update_task_def(defn: TaskDef) -> Call[None]:
        return Call(method="PUT", path="/api/metadata/taskdefs", body=_encode(defn), parse=_none)

    @staticmethod
    def get_task_def(name: str) -> Call[TaskDef]:
        return Call(method="GET", path=f"/api/metadata/taskdefs/{_seg(name)}", parse=_json(TaskDef))

    @staticmethod
    def list_task_defs() -> Call[list[TaskDef]]:
        return Call(method="GET", path="/api/metadata/taskdefs", parse=_json(list[TaskDef]))

    @staticmethod
    def unregister_task_def(name: str) -> Call[None]:
        return Call(method="DELETE", path=f"/api/metadata/taskdefs/{_seg(name)}", parse=_none)

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
    ) -> Call[str]:
        params: list[tuple[str, str]] = []
        if version is not None:
            params.append(("version", str(version)))
        if correlation_id is not None:
            params.append(("correlationId", correlation_id))
        if priority is not None:
            params.append(("priority", str(priority)))
        return Call(
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
    ) -> Call[str]:
        return Call(
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
    ) -> Call[ExecuteResult]:
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
        return Call(
            method="POST",
            path=path,
            params=params,
            headers=_idempotency_headers(idempotency_key, on_conflict),
            body=_encode(request),
            parse=_execute,
            extra_timeout=float(wait_for_seconds if wait_for_seconds is not None else 10),
        )

    @staticmethod
    def get_workflow(workflow_id: str, include_tasks: bool) -> Call[Workflow]:
        return Call(
            method="GET",
            path=f"/api/workflow/{_seg(workflow_id)}",
            params=[("includeTasks", flag(include_tasks))],
            parse=_json(Workflow),
        )

    @staticmethod
    def get_workflow_status(workflow_id: str) -> Call[WorkflowStatusSummary]:
        return Call(
            method="GET",
            path=f"/api/workflow/{_seg(workflow_id)}/status",
            parse=_json(WorkflowStatusSummary),
        )

    @staticmethod
    def get_by_correlation_id(
        name: str, correlation_id: str, include_closed: bool, include_tasks: bool
    ) -> Call[list[Workflow]]:
        return Call(
            method="GET",
            path=f"/api/workflow/{_seg(name)}/correlated/{_seg(correlation_id)}",
            params=[("includeClosed", flag(include_closed)), ("includeTasks", flag(include_tasks))],
            parse=_json(list[Workflow]),
        )

    # search

    @staticmethod
    def search(
        path: str, kind: type[T], query: str | None, free_text: str | None, start: int, size: int, sort: str | None
    ) -> Call[SearchResult[T]]:
        params = [("start", str(start)), ("size", str(size))]
        for name, value in (("query", query), ("freeText", free_text), ("sort", sort)):
            if value is not None:
                params.append((name, value))
        return Call(method="GET", path=path, params=params, parse=_json(SearchResult[kind]))  # type: ignore[valid-type]

    @staticmethod
    def running_workflows(
        name: str, version: int | None, start_time: int | None, end_time: int | None
    ) -> Call[list[str]]:
        params = [
            (key, str(value))
            for key, value in (("version", version), ("startTime", start_time), ("endTime", end_time))
            if value is not None
        ]
        return Call(method="GET", path=f"/api/workflow/running/{_seg(name)}", params=params, parse=_json(list[str]))

    @staticmethod
    def terminate(workflow_id: str, reason: str | None) -> Call[None]:
        params = [("reason", reason)] if reason is not None else []
        return Call(method="DELETE", path=f"/api/workflow/{_seg(workflow_id)}", params=params, parse=_none)

    @staticmethod
    def remove(workflow_id: str) -> Call[None]:
        return Call(method="DELETE", path=f"/api/workflow/{_seg(workflow_id)}/remove", parse=_none)

    # an operator's operations

    @staticmethod
    def pause(workflow_id: str) -> Call[None]:
        return Call(method="PUT", path=f"/api/workflow/{_seg(workflow_id)}/pause", parse=_none)

    @staticmethod
    def resume(workflow_id: str) -> Call[None]:
        return Call(method="PUT", path=f"/api/workflow/{_seg(workflow_id)}/resume", parse=_none)

    @staticmethod
    def restart(workflow_id: str, use_latest_definitions: bool) -> Call[None]:
        return Call(
            method="POST",
            path=f"/api/workflow/{_seg(workflow_id)}/restart",
            params=[("useLatestDefinitions", flag(use_latest_definitions))],
            parse=_none,
        )

    @staticmethod
    def retry(workflow_id: str, resume_subworkflow_tasks: bool) -> Call[None]:
        return Call(
            method="POST",
            path=f"/api/workflow/{_seg(workflow_id)}/retry",
            params=[("resumeSubworkflowTasks", flag(resume_subworkflow_tasks))],
            parse=_none,
        )

    @staticmethod
    def rerun(workflow_id: str, request: RerunWorkflowRequest) -> Call[str]:
        return Call(method="POST", path=f"/api/workflow/{_seg(workflow_id)}/rerun", body=_encode(request), parse=_text)

    @staticmethod
    def skip_task(workflow_id: str, task_ref_name: str, request: SkipTaskRequest) -> Call[None]:
        return Call(
            method="PUT",
            path=f"/api/workflow/{_seg(workflow_id)}/skiptask/{_seg(task_ref_name)}",
            body=_encode(request),
            parse=_none,
        )

    @staticmethod
    def update_variables(workflow_id: str, variables: Mapping[str, Any]) -> Call[Workflow]:
        return Call(
            method="POST",
            path=f"/api/workflow/{_seg(workflow_id)}/variables",
            body=_encode(dict(variables)),
            parse=_json(Workflow),
        )

    @staticmethod
    def decide(workflow_id: str) -> Call[None]:
        return Call(method="PUT", path=f"/api/workflow/decide/{_seg(workflow_id)}", parse=_none)

    @staticmethod
    def bulk(
        method: str, operation: str, workflow_ids: Sequence[str], params: list[tuple[str, str]] | None = None
    ) -> Call[BulkResponse]:
        return Call(
            method=method,
            path=f"/api/workflow/bulk/{operation}",
            params=params or [],
            body=_encode(list(workflow_ids)),
            parse=_json(BulkResponse),
        )

    # tasks

    @staticmethod
    def poll(task_type: str, worker_id: str, count: int, timeout_ms: int, domain: str | None) -> Call[list[Task]]:
        params = [("workerid", worker_id), ("count", str(count)), ("timeout", str(timeout_ms))]
        if domain:
            params.append(("domain", domain))
        return Call(
            method="GET",
            path=f"/api/tasks/poll/batch/{_seg(task_type)}",
            params=params,
            parse=_tasks,
            extra_timeout=timeout_ms / 1000,
        )

    @staticmethod
    def poll_one(task_type: str, worker_id: str, domain: str | None) -> Call[Task | None]:
        params = [("workerid", worker_id)]
        if domain:
            params.append(("domain", domain))
        return Call(
            method="GET",
            path=f"/api/tasks/poll/{_seg(task_type)}",
            params=params,
            parse=_optional_task,
        )

    @staticmethod
    def update_task(result: TaskResult) -> Call[str]:
        return Call(method="POST", path="/api/tasks", body=_encode(result), parse=_text)

    @staticmethod
    def update_task_v2(result: TaskResult) -> Call[Task | None]:
        return Call(method="POST", path="/api/tasks/update-v2", body=_encode(result), parse=_optional_task)

    @staticmethod
    def get_task(task_id: str) -> Call[Task]:
        return Call(method="GET", path=f"/api/tasks/{_seg(task_id)}", parse=_json(Task))

    @staticmethod
    def queue_sizes(task_types: Sequence[str]) -> Call[dict[str, int]]:
        return Call(
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
    ) -> Call[str]:
        params = [("workerid", worker_id)] if worker_id is not None else []
        status_value = status.value if isinstance(status, TaskResultStatus | TaskStatus) else str(status)
        return Call(
            method="POST",
            path=f"/api/tasks/{_seg(workflow_id)}/{_seg(task_ref_name)}/{_seg(status_value)}",
            params=params,
            body=_encode(dict(output or {})),
            parse=_text,
        )

    @staticmethod
    def add_task_log(task_id: str, line: str) -> Call[None]:
        return Call(method="POST", path=f"/api/tasks/{_seg(task_id)}/log", body=_encode(line), parse=_none)

    @staticmethod
    def get_task_logs(task_id: str) -> Call[list[TaskExecLog]]:
        return Call(method="GET", path=f"/api/tasks/{_seg(task_id)}/log", parse=_json(list[TaskExecLog]))

    @staticmethod
    def health() -> Call[bool]:
        return Call(method="GET", path="/health", parse=lambda r: True)


def start_request(
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
