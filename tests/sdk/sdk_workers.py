"""Worker functions for the ``baton worker`` subprocess tests (imported by module:function spec)."""

from __future__ import annotations

from baton.model import Task
from baton.sdk import worker_task


@worker_task("sdk_cli_add_one", poll_interval_ms=50)
def add_one(x: int) -> dict[str, int]:
    return {"x": x + 1}


@worker_task("sdk_cli_double", poll_interval_ms=50)
def double(task: Task) -> dict[str, int]:
    return {"x": task.input_data["x"] * 2}


def plain_square(x: int) -> dict[str, int]:
    """Not decorated: loaded as ``sdk_workers:plain_square=sdk_cli_square`` (from this folder)."""
    return {"x": x * x}


def refuses(x: int) -> dict[str, int]:
    """Not decorated (a whole-module load leaves it out): loaded as ``sdk_workers:refuses=sdk_cli_refuses``."""
    raise ValueError(f"x={x} is not welcome")
