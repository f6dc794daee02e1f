"""``AsyncBatonClient``: the asyncio twin of ``BatonClient``, the same methods awaited."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

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
from baton.model.credentials import credential_headers
from baton.model.summaries import TaskSummary, WorkflowSummary
from baton.sdk.client.calls import DEFAULT_TIMEOUT, Call, flag, read_error, server_root, with_extra_timeout
from baton.sdk.client.errors import BatonConnectionError
from baton.sdk.client.results import ExecuteResult, SearchResult, WorkflowStatusSummary
from baton.sdk.client.routes import Routes, start_request

__all__ = ["AsyncBatonClient"]

T = TypeVar("T")


class AsyncBatonClient:
    """The asyncio twin of ``BatonClient``: the same methods, awaited."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        key_id: str | None = None,
        key_secret: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = server_root(base_url)
        self._timeout = httpx.Timeout(timeout)
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=self._timeout,
            headers={
                "Accept": "application/json, text/plain, */*",
                **credential_headers(key_id, key_secret),
                **(headers or {}),
            },
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

    async def _send(self, call: Call[T]) -> T:
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
                timeout=with_extra_timeout(self._timeout, call.extra_timeout),
            )
        except httpx.TransportError as exc:
            raise BatonConnectionError(f"{call.method} {call.path}: {exc!r}") from exc
        if response.status_code >= 400:
            raise read_error(response)
        return call.parse(response)

    async def health(self) -> bool:
        return await self._send(Routes.health())

    async def register_workflow(self, defn: WorkflowDef, *, overwrite: bool = False) -> None:
        await self._send(Routes.register_workflow(defn, overwrite))

    async def update_workflows(self, defs: Sequence[WorkflowDef]) -> None:
        await self._send(Routes.update_workflows(defs))

    async def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef:
        return await self._send(Routes.get_workflow_def(name, version))

    async def list_workflow_defs(self) -> list[WorkflowDef]:
        return await self._send(Routes.list_workflow_defs())

    async def unregister_workflow(self, name: str, version: int) -> None:
        await self._send(Routes.unregister_workflow(name, version))

    async def register_task_defs(self, defs: Sequence[TaskDef]) -> None:
        await self._send(Routes.register_task_defs(defs))

    async def update_task_def(self, defn: TaskDef) -> None:
        await self._send(Routes.update_task_def(defn))

    async def get_task_def(self, name: str) -> TaskDef:
        return await self._send(Routes.get_task_def(name))

    async def list_task_defs(self) -> list[TaskDef]:
        return await self._send(Routes.list_task_defs())

    async def unregister_task_def(self, name: str) -> None:
        await self._send(Routes.unregister_task_def(name))

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
            Routes.start_workflow(name, input, version, correlation_id, priority, idempotency_key, on_conflict)
        )

    async def start(
        self,
        request: StartWorkflowRequest,
        *,
        idempotency_key: str | None = None,
        on_conflict: IdempotencyStrategy | str | None = None,
    ) -> str:
        return await self._send(Routes.start(request, idempotency_key, on_conflict))

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
        request = start_request(name, input, version, correlation_id, priority)
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
            Routes.execute(request, wait_for_seconds, wait_until_task_ref, request_id, idempotency_key, on_conflict)
        )

    async def get_workflow(self, workflow_id: str, *, include_tasks: bool = True) -> Workflow:
        return await self._send(Routes.get_workflow(workflow_id, include_tasks))

    async def get_workflow_status(self, workflow_id: str) -> WorkflowStatusSummary:
        return await self._send(Routes.get_workflow_status(workflow_id))

    async def get_workflows_by_correlation_id(
        self,
        name: str,
        correlation_id: str,
        *,
        include_closed: bool = False,
        include_tasks: bool = False,
    ) -> list[Workflow]:
        return await self._send(Routes.get_by_correlation_id(name, correlation_id, include_closed, include_tasks))

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
            Routes.search("/api/workflow/search", WorkflowSummary, query, free_text, start, size, sort)
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
        return await self._send(Routes.search("/api/tasks/search", TaskSummary, query, free_text, start, size, sort))

    async def get_running_workflows(
        self, name: str, *, version: int | None = None, start_time: int | None = None, end_time: int | None = None
    ) -> list[str]:
        return await self._send(Routes.running_workflows(name, version, start_time, end_time))

    async def terminate(self, workflow_id: str, reason: str | None = None) -> None:
        await self._send(Routes.terminate(workflow_id, reason))

    async def remove(self, workflow_id: str) -> None:
        await self._send(Routes.remove(workflow_id))

    async def pause(self, workflow_id: str) -> None:
        await self._send(Routes.pause(workflow_id))

    async def resume(self, workflow_id: str) -> None:
        await self._send(Routes.resume(workflow_id))

    async def restart(self, workflow_id: str, *, use_latest_definitions: bool = False) -> None:
        await self._send(Routes.restart(workflow_id, use_latest_definitions))

    async def retry(self, workflow_id: str, *, resume_subworkflow_tasks: bool = False) -> None:
        await self._send(Routes.retry(workflow_id, resume_subworkflow_tasks))

    async def rerun(self, workflow_id: str, request: RerunWorkflowRequest | None = None) -> str:
        request = request or RerunWorkflowRequest(re_run_from_workflow_id=workflow_id)
        return await self._send(Routes.rerun(workflow_id, request))

    async def skip_task(self, workflow_id: str, task_ref_name: str, request: SkipTaskRequest | None = None) -> None:
        await self._send(Routes.skip_task(workflow_id, task_ref_name, request or SkipTaskRequest()))

    async def update_variables(self, workflow_id: str, variables: Mapping[str, Any]) -> Workflow:
        return await self._send(Routes.update_variables(workflow_id, variables))

    async def decide(self, workflow_id: str) -> None:
        await self._send(Routes.decide(workflow_id))

    async def bulk_pause(self, workflow_ids: Sequence[str]) -> BulkResponse:
        return await self._send(Routes.bulk("PUT", "pause", workflow_ids))

    async def bulk_resume(self, workflow_ids: Sequence[str]) -> BulkResponse:
        return await self._send(Routes.bulk("PUT", "resume", workflow_ids))

    async def bulk_restart(self, workflow_ids: Sequence[str], *, use_latest_definitions: bool = False) -> BulkResponse:
        params = [("useLatestDefinitions", flag(use_latest_definitions))]
        return await self._send(Routes.bulk("POST", "restart", workflow_ids, params))

    async def bulk_retry(self, workflow_ids: Sequence[str]) -> BulkResponse:
        return await self._send(Routes.bulk("POST", "retry", workflow_ids))

    async def bulk_terminate(self, workflow_ids: Sequence[str], *, reason: str | None = None) -> BulkResponse:
        params = [("reason", reason)] if reason is not None else []
        return await self._send(Routes.bulk("POST", "terminate", workflow_ids, params))

    async def poll(
        self,
        task_type: str,
        worker_id: str,
        count: int = 1,
        timeout_ms: int = 100,
        *,
        domain: str | None = None,
    ) -> list[Task]:
        return await self._send(Routes.poll(task_type, worker_id, count, timeout_ms, domain))

    async def poll_one(self, task_type: str, worker_id: str, *, domain: str | None = None) -> Task | None:
        return await self._send(Routes.poll_one(task_type, worker_id, domain))

    async def update_task(self, result: TaskResult) -> str:
        return await self._send(Routes.update_task(result))

    async def update_task_v2(self, result: TaskResult) -> Task | None:
        return await self._send(Routes.update_task_v2(result))

    async def get_task(self, task_id: str) -> Task:
        return await self._send(Routes.get_task(task_id))

    async def queue_sizes(self, task_types: str | Sequence[str]) -> dict[str, int]:
        types = [task_types] if isinstance(task_types, str) else list(task_types)
        return await self._send(Routes.queue_sizes(types))

    async def complete_task_by_ref(
        self,
        workflow_id: str,
        task_ref_name: str,
        status: TaskResultStatus | TaskStatus | str = TaskResultStatus.COMPLETED,
        output: Mapping[str, Any] | None = None,
        *,
        worker_id: str | None = None,
    ) -> str:
        return await self._send(Routes.complete_task_by_ref(workflow_id, task_ref_name, status, output, worker_id))

    async def add_task_log(self, task_id: str, line: str) -> None:
        await self._send(Routes.add_task_log(task_id, line))

    async def get_task_logs(self, task_id: str) -> list[TaskExecLog]:
        return await self._send(Routes.get_task_logs(task_id))
