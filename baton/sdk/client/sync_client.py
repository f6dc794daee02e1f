"""``BatonClient``: the synchronous client, one method per route of the REST API."""

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

__all__ = ["BatonClient"]

T = TypeVar("T")


class BatonClient:
    """A synchronous client for a Baton (or Conductor) server.

    ``base_url`` is the server's root, such as ``http://127.0.0.1:8080`` (a URL
    ending in ``/api`` is accepted too). It sends an access key: ``key_id`` and
    ``key_secret``, else ``BATON_KEY_ID`` / ``BATON_KEY_SECRET``, else the credentials
    file ``baton serve`` wrote. ``headers`` are sent with every request (an
    ``Authorization`` among them replaces the key). The client is thread-safe and keeps connections
    alive; close it, or use it as a context manager.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        headers: Mapping[str, str] | None = None,
        key_id: str | None = None,
        key_secret: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = server_root(base_url)
        self._timeout = httpx.Timeout(timeout)
        self._http = httpx.Client(
            base_url=self.base_url,
            timeout=self._timeout,
            headers={
                "Accept": "application/json, text/plain, */*",
                **credential_headers(key_id, key_secret),
                **(headers or {}),
            },
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

    def _send(self, call: Call[T]) -> T:
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
                timeout=with_extra_timeout(self._timeout, call.extra_timeout),
            )
        except httpx.TransportError as exc:
            raise BatonConnectionError(f"{call.method} {call.path}: {exc!r}") from exc
        if response.status_code >= 400:
            raise read_error(response)
        return call.parse(response)

    def health(self) -> bool:
        """True when the server answers ``GET /health`` with a 2xx."""
        return self._send(Routes.health())

    # metadata

    def register_workflow(self, defn: WorkflowDef, *, overwrite: bool = False) -> None:
        """Register a workflow definition (``POST /api/metadata/workflow``)."""
        self._send(Routes.register_workflow(defn, overwrite))

    def update_workflows(self, defs: Sequence[WorkflowDef]) -> None:
        """Create or replace definitions (``PUT /api/metadata/workflow``)."""
        self._send(Routes.update_workflows(defs))

    def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef:
        """A definition; the latest version unless ``version`` is given."""
        return self._send(Routes.get_workflow_def(name, version))

    def list_workflow_defs(self) -> list[WorkflowDef]:
        return self._send(Routes.list_workflow_defs())

    def unregister_workflow(self, name: str, version: int) -> None:
        self._send(Routes.unregister_workflow(name, version))

    def register_task_defs(self, defs: Sequence[TaskDef]) -> None:
        """Register task definitions (``POST /api/metadata/taskdefs``)."""
        self._send(Routes.register_task_defs(defs))

    def update_task_def(self, defn: TaskDef) -> None:
        """Create or replace one task definition (``PUT /api/metadata/taskdefs``)."""
        self._send(Routes.update_task_def(defn))

    def get_task_def(self, name: str) -> TaskDef:
        return self._send(Routes.get_task_def(name))

    def list_task_defs(self) -> list[TaskDef]:
        return self._send(Routes.list_task_defs())

    def unregister_task_def(self, name: str) -> None:
        self._send(Routes.unregister_task_def(name))

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
            Routes.start_workflow(name, input, version, correlation_id, priority, idempotency_key, on_conflict)
        )

    def start(
        self,
        request: StartWorkflowRequest,
        *,
        idempotency_key: str | None = None,
        on_conflict: IdempotencyStrategy | str | None = None,
    ) -> str:
        """Start a run from a ``StartWorkflowRequest`` (``POST /api/workflow``) and return its id."""
        return self._send(Routes.start(request, idempotency_key, on_conflict))

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
        request = start_request(name, input, version, correlation_id, priority)
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
            Routes.execute(request, wait_for_seconds, wait_until_task_ref, request_id, idempotency_key, on_conflict)
        )

    def get_workflow(self, workflow_id: str, *, include_tasks: bool = True) -> Workflow:
        return self._send(Routes.get_workflow(workflow_id, include_tasks))

    def get_workflow_status(self, workflow_id: str) -> WorkflowStatusSummary:
        return self._send(Routes.get_workflow_status(workflow_id))

    def get_workflows_by_correlation_id(
        self,
        name: str,
        correlation_id: str,
        *,
        include_closed: bool = False,
        include_tasks: bool = False,
    ) -> list[Workflow]:
        return self._send(Routes.get_by_correlation_id(name, correlation_id, include_closed, include_tasks))

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
        return self._send(Routes.search("/api/workflow/search", WorkflowSummary, query, free_text, start, size, sort))

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
        return self._send(Routes.search("/api/tasks/search", TaskSummary, query, free_text, start, size, sort))

    def get_running_workflows(
        self, name: str, *, version: int | None = None, start_time: int | None = None, end_time: int | None = None
    ) -> list[str]:
        """Ids of the RUNNING runs of ``name`` (every version unless one is given), oldest first."""
        return self._send(Routes.running_workflows(name, version, start_time, end_time))

    def terminate(self, workflow_id: str, reason: str | None = None) -> None:
        """Terminate a running run (``DELETE /api/workflow/{id}``)."""
        self._send(Routes.terminate(workflow_id, reason))

    def remove(self, workflow_id: str) -> None:
        """Delete a run and its tasks (``DELETE /api/workflow/{id}/remove``)."""
        self._send(Routes.remove(workflow_id))

    # an operator's operations

    def pause(self, workflow_id: str) -> None:
        """Pause a run: it schedules nothing new until resumed (``PUT /api/workflow/{id}/pause``)."""
        self._send(Routes.pause(workflow_id))

    def resume(self, workflow_id: str) -> None:
        """Resume a paused run (``PUT /api/workflow/{id}/resume``)."""
        self._send(Routes.resume(workflow_id))

    def restart(self, workflow_id: str, *, use_latest_definitions: bool = False) -> None:
        """Run an ended run again from its start, same id (``POST /api/workflow/{id}/restart``)."""
        self._send(Routes.restart(workflow_id, use_latest_definitions))

    def retry(self, workflow_id: str, *, resume_subworkflow_tasks: bool = False) -> None:
        """A new attempt of the failed steps of a failed run (``POST /api/workflow/{id}/retry``)."""
        self._send(Routes.retry(workflow_id, resume_subworkflow_tasks))

    def rerun(self, workflow_id: str, request: RerunWorkflowRequest | None = None) -> str:
        """Run an ended run again from a task (or its start) with new input; returns its id."""
        return self._send(
            Routes.rerun(workflow_id, request or RerunWorkflowRequest(re_run_from_workflow_id=workflow_id))
        )

    def skip_task(self, workflow_id: str, task_ref_name: str, request: SkipTaskRequest | None = None) -> None:
        """Mark a step SKIPPED, now or when it is reached (``PUT /api/workflow/{id}/skiptask/{ref}``)."""
        self._send(Routes.skip_task(workflow_id, task_ref_name, request or SkipTaskRequest()))

    def update_variables(self, workflow_id: str, variables: Mapping[str, Any]) -> Workflow:
        """Merge variables into a run's; returns the run (``POST /api/workflow/{id}/variables``)."""
        return self._send(Routes.update_variables(workflow_id, variables))

    def decide(self, workflow_id: str) -> None:
        """Advance a run as far as it goes now (``PUT /api/workflow/decide/{id}``)."""
        self._send(Routes.decide(workflow_id))

    def bulk_pause(self, workflow_ids: Sequence[str]) -> BulkResponse:
        return self._send(Routes.bulk("PUT", "pause", workflow_ids))

    def bulk_resume(self, workflow_ids: Sequence[str]) -> BulkResponse:
        return self._send(Routes.bulk("PUT", "resume", workflow_ids))

    def bulk_restart(self, workflow_ids: Sequence[str], *, use_latest_definitions: bool = False) -> BulkResponse:
        params = [("useLatestDefinitions", flag(use_latest_definitions))]
        return self._send(Routes.bulk("POST", "restart", workflow_ids, params))

    def bulk_retry(self, workflow_ids: Sequence[str]) -> BulkResponse:
        return self._send(Routes.bulk("POST", "retry", workflow_ids))

    def bulk_terminate(self, workflow_ids: Sequence[str], *, reason: str | None = None) -> BulkResponse:
        params = [("reason", reason)] if reason is not None else []
        return self._send(Routes.bulk("POST", "terminate", workflow_ids, params))

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
        return self._send(Routes.poll(task_type, worker_id, count, timeout_ms, domain))

    def poll_one(self, task_type: str, worker_id: str, *, domain: str | None = None) -> Task | None:
        """Claim one task, or None when there is none (``GET /api/tasks/poll/{taskType}``)."""
        return self._send(Routes.poll_one(task_type, worker_id, domain))

    def update_task(self, result: TaskResult) -> str:
        """Report a task's result (``POST /api/tasks``); returns the task id."""
        return self._send(Routes.update_task(result))

    def update_task_v2(self, result: TaskResult) -> Task | None:
        """Report a result and claim the next task of that type for that worker, if any."""
        return self._send(Routes.update_task_v2(result))

    def get_task(self, task_id: str) -> Task:
        return self._send(Routes.get_task(task_id))

    def queue_sizes(self, task_types: str | Sequence[str]) -> dict[str, int]:
        """Tasks waiting per task type."""
        types = [task_types] if isinstance(task_types, str) else list(task_types)
        return self._send(Routes.queue_sizes(types))

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
        return self._send(Routes.complete_task_by_ref(workflow_id, task_ref_name, status, output, worker_id))

    def add_task_log(self, task_id: str, line: str) -> None:
        """Append a line to a task's log (``POST /api/tasks/{taskId}/log``)."""
        self._send(Routes.add_task_log(task_id, line))

    def get_task_logs(self, task_id: str) -> list[TaskExecLog]:
        return self._send(Routes.get_task_logs(task_id))
