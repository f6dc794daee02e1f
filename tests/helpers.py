"""Helpers for tests against a real server: unique names, workflow definitions, polling and completing
over plain HTTP, a worker that keeps going while the server is killed and restarted, and the same
definitions and waits in the Python SDK's types."""

from __future__ import annotations

import os
import ssl
import threading
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx

from baton.model import TaskDef, Workflow, WorkflowDef, WorkflowStatus, WorkflowTask
from baton.sdk import BatonClient, BatonConnectionError

if TYPE_CHECKING:
    from conductor.client.configuration.configuration import Configuration

ADMIN_KEY_ID = "test-admin"
ADMIN_KEY_SECRET = "test-admin-secret-7f3a9c2e41d8b605"
"""The first ADMIN key of every test server (``tests/conftest.py`` passes it as ``BATON_ADMIN_KEY_*``)."""
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_KEY_ID}:{ADMIN_KEY_SECRET}"}
"""What a plain HTTP client of a test server sends: the access key itself, accepted on every surface."""
ADMIN_HEADER_LINES = "".join(f"{name}: {value}\r\n" for name, value in ADMIN_HEADERS.items())
"""``ADMIN_HEADERS`` as HTTP/1.1 header lines, for requests written on a raw socket."""
SHARED_TLS = ssl.create_default_context()
"""The TLS context of the suite's httpx clients (``verify=SHARED_TLS``): left to itself, httpx builds one per client,
loading certifi's bundle each time (35 ms of CPU, far more than a request to a test server costs)."""
QUICK = os.environ.get("BATON_TEST_QUICK") == "1"
"""The quick suite (``make test-fast``, ``scripts/run-tests --quick``): property tests draw fewer examples."""


def examples(whole_suite: int) -> int:
    """How many examples a property test draws: ``whole_suite`` in the whole suite, a fifth (at least 2) in the
    quick one."""
    return max(2, whole_suite // 5) if QUICK else whole_suite


def conductor_configuration(server_url: str) -> Configuration:
    """conductor-python's configuration for a test server at ``server_url``, with the test ADMIN key: the client
    trades it for a token at ``POST /api/token`` and sends that as ``X-Authorization``, as against Orkes."""
    from conductor.client.configuration.configuration import Configuration
    from conductor.client.configuration.settings.authentication_settings import AuthenticationSettings

    key = AuthenticationSettings(key_id=ADMIN_KEY_ID, key_secret=ADMIN_KEY_SECRET)
    return Configuration(server_api_url=f"{server_url}/api", authentication_settings=key)


def conductor_key_env() -> dict[str, str]:
    """The environment that gives the Node client (which reads ``CONDUCTOR_AUTH_KEY`` / ``CONDUCTOR_AUTH_SECRET``
    itself) the test ADMIN key."""
    return {"CONDUCTOR_AUTH_KEY": ADMIN_KEY_ID, "CONDUCTOR_AUTH_SECRET": ADMIN_KEY_SECRET}


def unique(name: str) -> str:
    """``name`` with a random suffix: tests that share a server keep their runs, queues and keys apart."""
    return f"{name}_{uuid.uuid4().hex[:8]}"


def simple_workflow(name: str, steps: list[str], **extra: Any) -> dict[str, Any]:
    """A sequence of worker steps; each step's input carries the previous step's output."""
    tasks = []
    previous = "${workflow.input}"
    for index, step in enumerate(steps):
        tasks.append(
            {
                "name": step,
                "taskReferenceName": f"{step}_{index}",
                "type": "SIMPLE",
                "inputParameters": {"previous": previous, "x": "${workflow.input.x}"},
            }
        )
        previous = f"${{{step}_{index}.output}}"
    return {"name": name, "version": 1, "tasks": tasks, **extra}


def worker(ref: str, name: str, **extra: Any) -> dict[str, Any]:
    """A SIMPLE step: a worker task of type ``name`` under the reference ``ref``."""
    return {"name": name, "taskReferenceName": ref, "type": "SIMPLE", **extra}


def worker_step(name: str, ref: str | None = None) -> dict[str, Any]:
    """A SIMPLE step that passes the run's ``value`` on; its reference is its name unless given."""
    return {
        "name": name,
        "taskReferenceName": ref or name,
        "type": "SIMPLE",
        "inputParameters": {"value": "${workflow.input.value}"},
    }


def child_workflow(name: str = "child", worker: str = "child_work") -> dict[str, Any]:
    """One worker step whose output's ``doubled`` is the workflow's output."""
    return {
        "name": name,
        "version": 1,
        "tasks": [worker_step(worker)],
        "outputParameters": {"doubled": "${" + worker + ".output.doubled}"},
    }


def parent_workflow(name: str = "parent", child: str = "child", **step: Any) -> dict[str, Any]:
    """One SUB_WORKFLOW step ``sub`` that runs ``child`` (version 1) with the run's ``value``."""
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": step.pop("task_name", "run_child"),
                "taskReferenceName": "sub",
                "type": "SUB_WORKFLOW",
                "subWorkflowParam": {"name": child, "version": 1},
                "inputParameters": {"value": "${workflow.input.value}"},
                **step,
            }
        ],
        "outputParameters": {"fromChild": "${sub.output.doubled}"},
    }


def dynamic_fork_steps() -> list[dict[str, Any]]:
    """A FORK_JOIN_DYNAMIC ``fan_out`` of the branches in the run's input (``tasks``, ``inputs``) and its JOIN."""
    return [
        {
            "name": "fan_out",
            "taskReferenceName": "fan_out",
            "type": "FORK_JOIN_DYNAMIC",
            "inputParameters": {"tasks": "${workflow.input.tasks}", "inputs": "${workflow.input.inputs}"},
            "dynamicForkTasksParam": "tasks",
            "dynamicForkTasksInputParamName": "inputs",
        },
        {"name": "fan_in", "taskReferenceName": "fan_in", "type": "JOIN"},
    ]


def task_defs(client: httpx.Client, *defs: dict[str, Any]) -> None:
    response = client.post("/api/metadata/taskdefs", json=list(defs))
    assert response.status_code == 200, response.text


def register(client: httpx.Client, definition: dict[str, Any]) -> None:
    response = client.post("/api/metadata/workflow", json=definition, params={"overwrite": "true"})
    assert response.status_code == 200, response.text


def start(client: httpx.Client, name: str, payload: dict[str, Any] | None = None, **params: Any) -> str:
    response = client.post(f"/api/workflow/{name}", json=payload or {}, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def start_parent_with_retried_child(client: httpx.Client, value: int) -> tuple[str, str]:
    """A parent whose SUB_WORKFLOW step is retried once, started with ``value``: its id and the child's worker type."""
    parent_name, child_name, work_type, run_child = (
        unique("parent"),
        unique("child"),
        unique("child_work"),
        unique("run_child"),
    )
    client.post("/api/metadata/taskdefs", json=[{"name": run_child, "retryCount": 1, "retryDelaySeconds": 0}])
    register(client, child_workflow(child_name, work_type))
    register(client, parent_workflow(parent_name, child=child_name, task_name=run_child))
    return start(client, parent_name, {"value": value}), work_type


def poll(client: httpx.Client, task_type: str, count: int = 1, timeout_ms: int = 2000) -> list[dict[str, Any]]:
    response = client.get(
        f"/api/tasks/poll/batch/{task_type}", params={"workerid": "test-worker", "count": count, "timeout": timeout_ms}
    )
    assert response.status_code == 200, response.text
    tasks: list[dict[str, Any]] = response.json()
    return tasks


def complete(client: httpx.Client, task: dict[str, Any], output: dict[str, Any] | None = None) -> httpx.Response:
    return client.post(
        "/api/tasks",
        json={
            "taskId": task["taskId"],
            "workflowInstanceId": task["workflowInstanceId"],
            "status": "COMPLETED",
            "outputData": output or {},
            "workerId": "test-worker",
        },
    )


def take(client: httpx.Client, task_type: str, timeout_ms: int = 2000) -> dict[str, Any]:
    """Poll exactly one task of ``task_type``."""
    tasks = poll(client, task_type, timeout_ms=timeout_ms)
    assert len(tasks) == 1, f"expected one {task_type} task, got {tasks}"
    return tasks[0]


def finish(client: httpx.Client, task_type: str, output: dict[str, Any] | None = None) -> dict[str, Any]:
    """Poll one task of ``task_type`` and complete it."""
    task = take(client, task_type)
    assert complete(client, task, output).status_code == 200
    return task


def fail(client: httpx.Client, task: dict[str, Any], reason: str = "boom", status: str = "FAILED") -> None:
    response = client.post(
        "/api/tasks",
        json={
            "taskId": task["taskId"],
            "workflowInstanceId": task["workflowInstanceId"],
            "status": status,
            "reasonForIncompletion": reason,
        },
    )
    assert response.status_code == 200, response.text


def work_one(client: httpx.Client, task_type: str, output: dict[str, Any] | None = None) -> dict[str, Any]:
    """Complete one task of ``task_type`` with ``output``, by default its input ``value`` doubled."""
    task = take(client, task_type, timeout_ms=5000)
    response = complete(client, task, output if output is not None else {"doubled": task["inputData"]["value"] * 2})
    assert response.status_code == 200, response.text
    return task


def fail_one(client: httpx.Client, task_type: str) -> dict[str, Any]:
    """Fail one task of ``task_type`` for good (FAILED_WITH_TERMINAL_ERROR)."""
    task = take(client, task_type, timeout_ms=5000)
    fail(client, task, "child work broke", "FAILED_WITH_TERMINAL_ERROR")
    return task


def queue_size(client: httpx.Client, task_type: str) -> int:
    sizes: dict[str, int] = client.get("/api/tasks/queue/sizes", params={"taskType": task_type}).json()
    return sizes[task_type]


def run_of(client: httpx.Client, workflow_id: str) -> dict[str, Any]:
    response = client.get(f"/api/workflow/{workflow_id}")
    assert response.status_code == 200, response.text
    run: dict[str, Any] = response.json()
    return run


def statuses(run: dict[str, Any]) -> dict[str, str]:
    """Each task's status by its reference name (the last task of a reference wins)."""
    return {t["referenceTaskName"]: t["status"] for t in run["tasks"]}


def wait_for(client: httpx.Client, workflow_id: str, check: Any, timeout: float = 15.0) -> dict[str, Any]:
    """The run once ``check(run)`` holds (re-read every 50 ms); fails with the run after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        run = run_of(client, workflow_id)
        if check(run):
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.05)


def wait_for_child(client: httpx.Client, workflow_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """The run's ``sub`` task once it waits for its child (IN_PROGRESS, with the child's id)."""
    deadline = time.monotonic() + timeout
    while True:
        run = run_of(client, workflow_id)
        found = [t for t in run["tasks"] if t["referenceTaskName"] == "sub"]
        if found and found[-1]["status"] == "IN_PROGRESS" and found[-1].get("subWorkflowId"):
            return found[-1]
        assert time.monotonic() < deadline, run
        time.sleep(0.05)


def wait_for_status(client: httpx.Client, workflow_id: str, status: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = run_of(client, workflow_id)
        if run["status"] == status or time.monotonic() > deadline:
            assert run["status"] == status, run
            return run
        time.sleep(0.05)


Output = Callable[[dict[str, Any]], dict[str, Any]]
"""From a polled task (Conductor's JSON) to the output the worker reports."""


class ResilientWorker:
    """Polls task types over HTTP and completes what it gets; survives the server dying and coming back.

    ``acknowledged`` maps each task id whose result the server answered 200 to
    the output sent: what the server must keep, whatever happens to it later.
    A 404 or 409 (the task was retried or cancelled meanwhile) drops the result.
    """

    def __init__(self, url: str, output: Output, *, worker_id: str = "resilient-worker") -> None:
        self.url = url
        self.output = output
        self.worker_id = worker_id
        self.stop = threading.Event()
        self.acknowledged: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    def start(self, task_types: list[str], threads_per_type: int = 2) -> None:
        for task_type in task_types:
            for _ in range(threads_per_type):
                thread = threading.Thread(target=self.run, args=(task_type,), daemon=True)
                thread.start()
                self._threads.append(thread)

    def join(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def run(self, task_type: str) -> None:
        with httpx.Client(base_url=self.url, headers=ADMIN_HEADERS, timeout=5, verify=SHARED_TLS) as http:
            while not self.stop.is_set():
                try:
                    response = http.get(
                        f"/api/tasks/poll/batch/{task_type}",
                        params={"workerid": self.worker_id, "count": 10, "timeout": 500},
                    )
                except httpx.TransportError:
                    time.sleep(0.1)
                    continue
                if response.status_code != 200:
                    time.sleep(0.1)
                    continue
                for task in response.json():
                    self._report(http, task)

    def _report(self, http: httpx.Client, task: dict[str, Any]) -> None:
        output = self.output(task)
        result = {
            "taskId": task["taskId"],
            "workflowInstanceId": task["workflowInstanceId"],
            "status": "COMPLETED",
            "outputData": output,
            "workerId": self.worker_id,
        }
        while not self.stop.is_set():
            try:
                response = http.post("/api/tasks", json=result)
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            if response.status_code == 200:
                with self.lock:
                    self.acknowledged[task["taskId"]] = output
                return
            if response.status_code in (404, 409):
                return
            time.sleep(0.1)


# -- the Python SDK's types -------------------------------------------------------------------------


def chain(name: str, steps: list[str], **extra: Any) -> WorkflowDef:
    """Worker steps in a row: step i gets ``x`` from the run's input (i = 0) or step i-1's output."""
    tasks = []
    for index, step in enumerate(steps):
        source = "${workflow.input.x}" if index == 0 else f"${{s{index - 1}.output.x}}"
        tasks.append(WorkflowTask(name=step, task_reference_name=f"s{index}", input_parameters={"x": source}))
    last = f"s{len(steps) - 1}"
    return WorkflowDef(name=name, tasks=tasks, output_parameters={"x": f"${{{last}.output.x}}"}, **extra)


def quick_task_def(name: str, *, retry_count: int = 0) -> TaskDef:
    """A task type that retries at once, so failure tests do not wait out Conductor's 60 s default."""
    return TaskDef(
        name=name, retry_count=retry_count, retry_delay_seconds=0, response_timeout_seconds=30, timeout_seconds=60
    )


def wait_until_ended(client: BatonClient, workflow_id: str, timeout: float = 30.0) -> Workflow:
    """The run once it ended, read with the SDK; a server that is restarting is waited for."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            run = client.get_workflow(workflow_id)
        except BatonConnectionError:
            # The server may be restarting (a test killed it); keep asking until the deadline.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
            continue
        if run.status.is_terminal:
            return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {workflow_id} still {run.status.value} after {timeout}s: {run}")
        time.sleep(0.05)


def wait_until_ended_as(
    client: BatonClient, workflow_id: str, status: WorkflowStatus, timeout: float = 30.0
) -> Workflow:
    """``wait_for_status`` for the SDK: the run once it ended, asserted to have ended as ``status``."""
    run = wait_until_ended(client, workflow_id, timeout)
    assert run.status is status, run
    return run


def adder(name: str, **extra: Any) -> dict[str, Any]:
    """One INLINE step: the run finishes at once with ``sum`` = ``a + b``."""
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": "add",
                "taskReferenceName": "add",
                "type": "INLINE",
                "inputParameters": {
                    "evaluatorType": "javascript",
                    "expression": "$.a + $.b",
                    "a": "${workflow.input.a}",
                    "b": "${workflow.input.b}",
                },
            }
        ],
        "outputParameters": {"sum": "${add.output.result}"},
        **extra,
    }
