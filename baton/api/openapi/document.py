"""The OpenAPI 3.1 document: every area's paths, the component schemas and the error responses, built once.

Each area declares its own paths (``workflows.py``, ``tasks.py``, ``metadata.py``,
``events.py``, ``secrets.py``; the root's are here); ``tests/api/test_openapi.py`` holds the document to the
routes the app really has, both ways.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from baton.api.openapi import access, audit, components, events, metadata, secrets, tasks, workflows
from baton.api.openapi.spec import BOOLEAN, OBJECT, Paths, answer, operation
from baton.model.codec import encode

OPENAPI_PATH = "/api-docs"

_ROOT_PATHS: Paths = {
    "/health": {
        "get": operation(
            "health",
            "health",
            "Whether the server is up",
            public=True,
            responses={
                200: answer(
                    "Up.",
                    {"type": "object", "properties": {"healthy": BOOLEAN}, "required": ["healthy"]},
                )
            },
        ),
    },
    OPENAPI_PATH: {
        "get": operation(
            "apiDocs",
            "docs",
            "This document (OpenAPI 3.1)",
            responses={200: answer("The document.", OBJECT)},
            public=True,
        ),
    },
}

_AREAS: tuple[Paths, ...] = (
    access.paths,
    workflows.paths,
    tasks.paths,
    metadata.paths,
    events.paths,
    audit.paths,
    secrets.paths,
    _ROOT_PATHS,
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version  # with the first document: 30 ms of a start

    try:
        return version("baton")
    except PackageNotFoundError:
        return "0"


def all_paths() -> Paths:
    """Every area's paths; one path declared by two areas is a mistake, refused here."""
    found: Paths = {}
    for area in _AREAS:
        for path, operations in area.items():
            if path in found:
                raise ValueError(f"{path} is declared twice")
            found[path] = operations
    return found


@cache
def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Baton",
            "version": _version(),
            "description": "A durable workflow orchestration server that speaks Conductor's REST API. "
            "Every error answers Conductor's error body (`ErrorResponse`).",
        },
        "tags": [
            {"name": workflows.TAG, "description": "Start runs, read them, and an operator's operations on one run."},
            {"name": workflows.BULK_TAG, "description": "An operator's operations on many runs."},
            {"name": tasks.TAG, "description": "The worker API, tasks, their logs and queues."},
            {"name": metadata.TAG, "description": "Workflow and task definitions."},
            {"name": events.TAG, "description": "Event handlers: what to do when an EVENT task publishes."},
            {"name": access.TAG, "description": "Tokens, applications, their roles and access keys."},
            {"name": audit.TAG, "description": "The audit log: who did what (ADMIN only)."},
            {"name": secrets.TAG, "description": "Secrets: stored encrypted, given to tasks, never answered."},
        ],
        "paths": dict(sorted(all_paths().items())),
        "components": {
            "schemas": components.schemas(),
            "responses": components.responses(),
            "securitySchemes": access.SECURITY_SCHEMES,
        },
        "security": access.SECURITY,
    }


@cache
def document_json() -> bytes:
    """The document as JSON, encoded once."""
    return encode(document())
