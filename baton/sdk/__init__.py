"""Baton's Python SDK: an HTTP client for the server and a worker runner.

```python
from baton.sdk import BatonClient, WorkerRunner, worker_task

@worker_task("greet")
def greet(name: str) -> dict:
    return {"greeting": f"Hello, {name}"}

WorkerRunner("http://127.0.0.1:8080", concurrency=4).run_forever()
```
"""

from baton.sdk.client import (
    AsyncBatonClient,
    BatonApiError,
    BatonClient,
    BatonConnectionError,
    ExecuteResult,
    SearchResult,
    WorkflowRun,
    WorkflowStatusSummary,
)
from baton.sdk.runner import WorkerRunner, default_worker_id
from baton.sdk.worker import (
    InProgress,
    TerminalError,
    Worker,
    WorkerLoadError,
    WorkerRegistry,
    default_registry,
    load_workers,
    worker_task,
)

__all__ = [
    "AsyncBatonClient",
    "BatonApiError",
    "BatonClient",
    "BatonConnectionError",
    "ExecuteResult",
    "InProgress",
    "SearchResult",
    "TerminalError",
    "Worker",
    "WorkerLoadError",
    "WorkerRegistry",
    "WorkerRunner",
    "WorkflowRun",
    "WorkflowStatusSummary",
    "default_registry",
    "default_worker_id",
    "load_workers",
    "worker_task",
]
