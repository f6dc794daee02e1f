"""The words the OpenAPI document is written in: schemas, parameters, bodies, responses and operations.

Each area's module (``workflows.py``, ``tasks.py``, ...) declares its paths with these, so
every operation has the same shape: its parameters, its body, its answers, and the error
answers any route can give (a bad path or query is a 400, a store that fails a 503), each
with Conductor's error body (``components.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from baton.model import IdempotencyStrategy

Schema = dict[str, Any]
"""A JSON Schema (2020-12, OpenAPI 3.1's dialect)."""
Operation = dict[str, Any]
Paths = dict[str, dict[str, Operation]]
"""Path (with its ``/api`` prefix) -> lower-case method -> operation."""

JSON = "application/json"
TEXT = "text/plain"

STRING: Schema = {"type": "string"}
INTEGER: Schema = {"type": "integer"}
INT32: Schema = {"type": "integer", "format": "int32"}
INT64: Schema = {"type": "integer", "format": "int64"}
BOOLEAN: Schema = {"type": "boolean"}
OBJECT: Schema = {"type": "object"}
"""Any JSON object (an input, an output, variables)."""
STRINGS: Schema = {"type": "array", "items": STRING}


def enum(values: type[Enum]) -> Schema:
    """A string that is one of an enum's values."""
    return {"type": "string", "enum": [member.value for member in values]}


def ref(name: str) -> Schema:
    """The component schema ``name``."""
    return {"$ref": f"#/components/schemas/{name}"}


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def map_of(values: Schema) -> Schema:
    return {"type": "object", "additionalProperties": values}


def path(name: str, description: str, schema: Schema = STRING) -> dict[str, Any]:
    """A path parameter; a string one is never empty (an empty segment is another path)."""
    if schema.get("type") == "string":
        schema = {**schema, "minLength": 1}
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def query(name: str, description: str, schema: Schema = STRING, *, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "description": description, "schema": schema}


def header(name: str, description: str, schema: Schema = STRING) -> dict[str, Any]:
    return {"name": name, "in": "header", "required": False, "description": description, "schema": schema}


IDEMPOTENCY_HEADERS = [
    header("X-Idempotency-key", "Starts with the same key are one start: what a second one gets is `X-on-conflict`'s."),
    header(
        "X-on-conflict",
        "What a start whose idempotency key was used already gets.",
        enum(IdempotencyStrategy),
    ),
]


def json_body(schema: Schema, description: str, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "description": description, "content": {JSON: {"schema": schema}}}


def answer(description: str, schema: Schema | None = None, media: str = JSON) -> dict[str, Any]:
    """A success response; without a schema it has no body."""
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {media: {"schema": schema}}}


def text_answer(description: str) -> dict[str, Any]:
    return answer(description, STRING, TEXT)


ERROR_RESPONSES: dict[str, dict[str, Any]] = {
    "BadRequest": {"status": 400, "description": "A path, query parameter or body the server refuses."},
    "Unauthorized": {
        "status": 401,
        "description": "No credentials, or ones not accepted; `error` says EXPIRED_TOKEN (get a new token), "
        "INVALID_TOKEN or MISSING_CREDENTIALS.",
    },
    "Forbidden": {
        "status": 403,
        "description": "The key's roles do not allow this; the message names the role lacking.",
    },
    "NotFound": {"status": 404, "description": "Nothing by that name or id (or no route for the path given)."},
    "RequestTimeout": {"status": 408, "description": "The body did not arrive in time; the connection is closed."},
    "Conflict": {"status": 409, "description": "The operation does not apply to what it names in its state."},
    "PayloadTooLarge": {"status": 413, "description": "The body is larger than the server accepts."},
    "UnsupportedMediaType": {"status": 415, "description": "The body is sent as another media type than JSON."},
    "TooManyRequests": {
        "status": 429,
        "description": "The key (or client address) is over its requests per second, or its concurrent long polls; "
        "`Retry-After` says in how many seconds to try again.",
    },
    "ServiceUnavailable": {"status": 503, "description": "The store failed; the request may be tried again."},
}
"""Error answers, each a component response with Conductor's error body, by name."""
_ERROR_BY_STATUS = {str(spec["status"]): name for name, spec in ERROR_RESPONSES.items()}


def operation(
    operation_id: str,
    tag: str,
    summary: str,
    *,
    responses: dict[int, dict[str, Any]],
    parameters: Iterable[dict[str, Any]] = (),
    body: dict[str, Any] | None = None,
    errors: Iterable[int] = (),
    description: str | None = None,
    public: bool = False,
) -> Operation:
    """One operation. Every one may answer 400, 429 (``api/key_limits.py``) and 503; one with a body also 408 and
    413 (and 415 when the body is JSON only); one with a path parameter also 404; ``errors`` adds others (404, 409).
    One not ``public`` asks for credentials (the document's ``security``) and may answer 401 and 403."""
    params = list(parameters)
    statuses = {400, 429, 503, *errors} if public else {400, 401, 403, 429, 503, *errors}
    if body is not None:
        statuses |= {408, 413}
        if set(body["content"]) == {JSON}:
            statuses.add(415)
    if any(param["in"] == "path" for param in params):
        statuses.add(404)
    declared: dict[str, Any] = {str(status): response for status, response in responses.items()}
    for status in sorted(statuses):
        declared[str(status)] = {"$ref": f"#/components/responses/{_ERROR_BY_STATUS[str(status)]}"}
    found: Operation = {"operationId": operation_id, "tags": [tag], "summary": summary}
    if description is not None:
        found["description"] = description
    if public:
        found["security"] = []
    if params:
        found["parameters"] = params
    if body is not None:
        found["requestBody"] = body
    found["responses"] = declared
    return found


def search_parameters(hits: str, example_query: str) -> list[dict[str, Any]]:
    """A search's query parameters; ``hits`` names what is searched (runs, tasks)."""
    return [
        query("start", "How many hits to skip.", {**INT32, "default": 0}),
        query("size", "How many hits to answer.", INT32),
        query("sort", "`field:ASC|DESC`, comma-separated."),
        query("freeText", f"Words to find in the {hits}' input, output and ids (`*`: any)."),
        query("query", f"Conditions, e.g. `{example_query}`."),
    ]
