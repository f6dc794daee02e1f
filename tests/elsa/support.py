"""Definitions the Elsa API tests start, in Conductor's JSON, each under a name of the test's own."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import register, unique

ELSA = "/elsa/api"


def human(name: str) -> dict[str, Any]:
    """A HUMAN step ``review``: the run suspends on it."""
    return {
        "name": name,
        "version": 1,
        "tasks": [{"name": "review", "taskReferenceName": "review", "type": "HUMAN"}],
        "outputParameters": {"approved": "${review.output.approved}"},
    }


def worker_flow(name: str, task_type: str) -> dict[str, Any]:
    """One worker step: the run suspends until a worker of ``task_type`` reports."""
    return {
        "name": name,
        "version": 1,
        "tasks": [{"name": task_type, "taskReferenceName": "work", "type": "SIMPLE"}],
    }


def failing(name: str) -> dict[str, Any]:
    """A TERMINATE step that fails the run at once."""
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": "stop",
                "taskReferenceName": "stop",
                "type": "TERMINATE",
                "inputParameters": {"terminationStatus": "FAILED", "terminationReason": "no stock"},
            }
        ],
    }


def registered(client: httpx.Client, make: Any, prefix: str, *args: Any) -> str:
    """Register ``make(name, *args)`` under a fresh name; the name."""
    name = unique(prefix)
    register(client, make(name, *args))
    return name
