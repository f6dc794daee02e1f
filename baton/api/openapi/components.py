"""The document's component schemas, under Conductor's model names, and its error responses.

The models Baton decodes and encodes (``baton/model``) are described by msgspec from the
structs themselves, so a field added to a struct is in the document at once; their enums are
written inline (``{"type": "string", "enum": [...]}``) as Conductor's document writes them,
which also leaves the name ``WorkflowStatus`` to Conductor's status body. The shapes with no
struct (a search's page, the status body, the error body, and the shapes of routes whose
handlers build their JSON by hand) are written here, field by field, as the routes answer them.
"""

from __future__ import annotations

from typing import Any

import msgspec

from baton.api.openapi.spec import (
    BOOLEAN,
    ERROR_RESPONSES,
    INT64,
    INTEGER,
    JSON,
    OBJECT,
    STRING,
    Schema,
    array,
    enum,
    map_of,
    ref,
)
from baton.model import (
    BulkResponse,
    RerunWorkflowRequest,
    SkipTaskRequest,
    StartWorkflowRequest,
    Task,
    TaskDef,
    TaskExecLog,
    TaskResult,
    TaskResultStatus,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
    WorkflowTask,
)
from baton.model.audit import AuditPage
from baton.model.summaries import TaskSummary, WorkflowSummary

MODEL_STRUCTS: tuple[type[msgspec.Struct], ...] = (
    Workflow,
    Task,
    WorkflowDef,
    WorkflowTask,
    TaskDef,
    StartWorkflowRequest,
    TaskResult,
    TaskExecLog,
    RerunWorkflowRequest,
    SkipTaskRequest,
    BulkResponse,
    WorkflowSummary,
    TaskSummary,
    AuditPage,
)
"""The structs whose schemas are derived; what they refer to (``SubWorkflowParams``) comes along."""

NULLABLE_STRING: Schema = {"type": ["string", "null"]}


def _object(properties: dict[str, Schema], description: str, required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if description:
        schema["description"] = description
    if required:
        schema["required"] = list(required)
    return schema


def _nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _page(items: Schema, description: str) -> Schema:
    return _object({"totalHits": INT64, "results": array(items)}, description, ("totalHits", "results"))


_WRITTEN: dict[str, Schema] = {
    "WorkflowRun": {
        "description": "A run as a synchronous execute answers it: the run, and the id of the request.",
        "allOf": [ref("Workflow"), _object({"requestId": STRING}, "", ("requestId",))],
    },
    "WorkflowStatus": _object(
        {
            "workflowId": STRING,
            "correlationId": NULLABLE_STRING,
            "output": OBJECT,
            "variables": OBJECT,
            "status": enum(WorkflowStatus),
        },
        "A run's status, output and variables, without its tasks.",
        ("workflowId", "correlationId", "output", "variables", "status"),
    ),
    "SearchResultWorkflowSummary": _page(ref("WorkflowSummary"), "A page of a search of runs."),
    "SearchResultWorkflow": _page(ref("Workflow"), "A page of a search of runs, whole (without their tasks)."),
    "SearchResultTaskSummary": _page(ref("TaskSummary"), "A page of a search of tasks."),
    "SearchResultTask": _page(ref("Task"), "A page of a search of tasks, whole."),
    "TaskListSearchResultSummary": _object(
        {"results": array(ref("Task")), "totalHits": INT64, "summary": map_of(INTEGER)},
        "A page of a run's tasks; `summary` counts all the run's tasks by status, whatever the filter.",
        ("results", "totalHits", "summary"),
    ),
    "ErrorResponse": _object(
        {
            "status": INTEGER,
            "message": STRING,
            "instance": {"type": "string", "description": "The host name of the server that answered."},
            "retryable": {"type": "boolean", "description": "True for 429 and 503."},
            "validationErrors": array(ref("ValidationError")),
            "error": {
                "type": "string",
                "description": "On a 401: EXPIRED_TOKEN, INVALID_TOKEN or MISSING_CREDENTIALS.",
            },
        },
        "Every error's body. `validationErrors` names the fields at fault, when there are any.",
        ("status", "message", "instance", "retryable"),
    ),
    "ValidationError": _object(
        {"path": STRING, "message": STRING}, "A field at fault: where it is, and what is wrong.", ("path", "message")
    ),
    "PollData": _object(
        {"queueName": STRING, "domain": NULLABLE_STRING, "workerId": NULLABLE_STRING, "lastPollTime": INT64},
        "When a worker last polled a task type's queue (in a domain).",
    ),
    "EventHandler": _object(
        {
            "name": STRING,
            "event": {"type": "string", "description": "The event it acts on, e.g. `conductor:<workflow>:<ref>`."},
            "condition": {"type": ["string", "null"], "description": "An expression over the event's payload `$`."},
            "actions": array(ref("Action")),
            "active": BOOLEAN,
            "evaluatorType": NULLABLE_STRING,
        },
        "What to do when an event is published.",
        ("name", "event", "actions"),
    ),
    "Action": _object(
        {
            "action": {
                "type": "string",
                "enum": [
                    "start_workflow",
                    "complete_task",
                    "fail_task",
                    "terminate_workflow",
                    "update_workflow_variables",
                ],
            },
            "start_workflow": _nullable(ref("StartWorkflow")),
            "complete_task": _nullable(ref("TaskDetails")),
            "fail_task": _nullable(ref("TaskDetails")),
            "terminate_workflow": _nullable(ref("TerminateWorkflow")),
            "update_workflow_variables": _nullable(ref("UpdateWorkflowVariables")),
            "expandInlineJSON": BOOLEAN,
        },
        "One action of an event handler, with the parameters of its kind (the other kinds' are null).",
        ("action",),
    ),
    "StartWorkflow": _object(
        {
            "name": NULLABLE_STRING,
            "version": {"type": ["integer", "null"]},
            "correlationId": NULLABLE_STRING,
            "input": OBJECT,
            "taskToDomain": map_of(STRING),
        },
        "The run a `start_workflow` action starts.",
    ),
    "TaskDetails": _object(
        {"workflowId": NULLABLE_STRING, "taskRefName": NULLABLE_STRING, "taskId": NULLABLE_STRING, "output": OBJECT},
        "The task a `complete_task` or `fail_task` action ends (by `taskId`, or by run and reference), and its output.",
    ),
    "TerminateWorkflow": _object(
        {"workflowId": NULLABLE_STRING, "terminationReason": NULLABLE_STRING},
        "The run a `terminate_workflow` action ends.",
    ),
    "UpdateWorkflowVariables": _object(
        {"workflowId": NULLABLE_STRING, "variables": OBJECT, "appendArray": BOOLEAN},
        "The run whose variables an `update_workflow_variables` action sets.",
    ),
    "WorkflowTestRequest": {
        "description": "A start whose worker tasks are answered by `taskRefToMockOutput` (per reference name, one "
        "mock per attempt, in order); `subWorkflowTestRequest` gives a SUB_WORKFLOW step's child its own.",
        "allOf": [
            ref("StartWorkflowRequest"),
            _object(
                {
                    "taskRefToMockOutput": map_of(array(ref("TaskMock"))),
                    "subWorkflowTestRequest": map_of(ref("WorkflowTestRequest")),
                },
                "",
            ),
        ],
    },
    "TaskMock": _object(
        {
            "status": enum(TaskResultStatus),
            "output": {"type": ["object", "null"]},
            "executionTime": INTEGER,
            "queueWaitTime": INTEGER,
        },
        "What one attempt of a mocked worker task reports.",
    ),
}
"""The shapes no struct describes."""

_EXTRA_PROPERTIES: dict[str, dict[str, Schema]] = {
    "Workflow": {"workflowType": {"type": "string", "description": "The workflow's name, as Conductor names it."}},
}
"""Fields a route adds to a struct's JSON as it answers it (``api/conductor/streaming.render_run``)."""


def _inline_enums(value: Any, enums: dict[str, Schema]) -> Any:
    if isinstance(value, dict):
        target = value.get("$ref")
        if isinstance(target, str) and target.rsplit("/", 1)[-1] in enums:
            return {**enums[target.rsplit("/", 1)[-1]], **{k: v for k, v in value.items() if k != "$ref"}}
        return {key: _inline_enums(item, enums) for key, item in value.items()}
    if isinstance(value, list):
        return [_inline_enums(item, enums) for item in value]
    return value


def _clean(schema: Schema) -> Schema:
    """A derived schema without msgspec's ``title`` (the component's name says it) or reST quoting."""
    found = {key: value for key, value in schema.items() if key != "title"}
    if "description" in found:
        found["description"] = " ".join(found["description"].replace("``", "`").split())
    return found


def model_schemas() -> dict[str, Schema]:
    """The structs' schemas by name, their enums written inline."""
    _, derived = msgspec.json.schema_components(MODEL_STRUCTS, ref_template="#/components/schemas/{name}")
    enums = {name: {"type": "string", "enum": schema["enum"]} for name, schema in derived.items() if "enum" in schema}
    schemas: dict[str, Schema] = {}
    for name, schema in derived.items():
        if name in enums:
            continue
        cleaned = _clean(_inline_enums(schema, enums))
        extra = _EXTRA_PROPERTIES.get(name)
        if extra:
            cleaned["properties"] = {**cleaned["properties"], **extra}
        schemas[name] = cleaned
    return schemas


def schemas() -> dict[str, Schema]:
    """Every component schema, by name, sorted."""
    found = model_schemas()
    clash = set(found) & set(_WRITTEN)
    if clash:
        raise ValueError(f"written by hand and derived from a struct: {sorted(clash)}")
    found.update(_WRITTEN)
    return dict(sorted(found.items()))


def responses() -> dict[str, Any]:
    """The error answers, each with Conductor's error body."""
    return {
        name: {"description": spec["description"], "content": {JSON: {"schema": ref("ErrorResponse")}}}
        for name, spec in ERROR_RESPONSES.items()
    }
