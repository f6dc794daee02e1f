"""What the Ballerine tests share: the bundled KYB definition under names of the test's own, and starts."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import httpx

from tests.helpers import register, unique


def kyb_definition() -> dict[str, Any]:
    """``baton/examples/kyb_review.json`` as shipped."""
    loaded: dict[str, Any] = json.loads(resources.files("baton.examples").joinpath("kyb_review.json").read_text())
    return loaded


def register_kyb(client: httpx.Client) -> tuple[str, str, str]:
    """The KYB example under a name, a queue and a check worker's task type of the test's own."""
    definition = kyb_definition()
    name, queue, check = unique("kyb"), unique("queue"), unique("kyb_check")
    text = json.dumps(definition).replace('"kyb_document_check"', json.dumps(check))
    definition = {**json.loads(text), "name": name, "case": {"entityType": "business", "queue": queue}}
    register(client, definition)
    return name, queue, check


def waiting_workflow(name: str, *, event: str | None = None, human: bool = False) -> dict[str, Any]:
    """One step waiting for an event (a WAIT, or a HUMAN step), then a worker-free end."""
    params = {"event": event} if event else {}
    return {
        "name": name,
        "version": 1,
        "tasks": [
            {
                "name": "wait_here",
                "taskReferenceName": "wait_here",
                "type": "HUMAN" if human else "WAIT",
                "inputParameters": params,
            },
            {
                "name": "echo",
                "taskReferenceName": "echo",
                "type": "INLINE",
                "inputParameters": {
                    "evaluatorType": "graaljs",
                    "expression": "$.got",
                    "got": "${wait_here.output}",
                },
            },
        ],
    }


def business(entity_id: str, **data: Any) -> dict[str, Any]:
    return {"type": "business", "id": entity_id, "data": {"companyName": "Acme Ltd", **data}}


def run_body(workflow: str, entity: dict[str, Any], **extra: Any) -> dict[str, Any]:
    context = {"entity": entity, "documents": extra.pop("documents", [])}
    return {"workflowId": workflow, "context": context, **extra}


def start_run(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/external/workflows/run", json=body)
    assert response.status_code == 200, response.text
    started: dict[str, Any] = response.json()
    return started


def errors_of(response: httpx.Response) -> list[str]:
    """The field paths a Ballerine error body names."""
    return [error["path"] for error in response.json().get("errors", [])]
