"""The document's ``/api/metadata`` paths: workflow and task definitions, as ``api/conductor/metadata.py`` serves
them."""

from __future__ import annotations

from baton.api.openapi.spec import (
    BOOLEAN,
    INT32,
    INTEGER,
    Paths,
    answer,
    array,
    json_body,
    operation,
    path,
    query,
    ref,
)

TAG = "metadata-resource"

_NAME = path("name", "The definition's name.")
_DONE = answer("Done.")

paths: Paths = {
    "/api/metadata/workflow": {
        "post": operation(
            "create",
            TAG,
            "Register a workflow definition",
            parameters=[query("overwrite", "Replace the version if it exists.", {**BOOLEAN, "default": False})],
            body=json_body(ref("WorkflowDef"), "The definition."),
            responses={200: _DONE},
            errors=[409],
        ),
        "put": operation(
            "update",
            TAG,
            "Register or replace workflow definitions",
            body=json_body(array(ref("WorkflowDef")), "The definitions."),
            responses={
                200: answer(
                    "How many were stored.",
                    {
                        "type": "object",
                        "properties": {"status": {"type": "string", "const": "OK"}, "count": INTEGER},
                        "required": ["status", "count"],
                    },
                )
            },
        ),
        "get": operation(
            "getAllWorkflows",
            TAG,
            "Every workflow definition",
            responses={200: answer("The definitions.", array(ref("WorkflowDef")))},
        ),
    },
    "/api/metadata/workflow/{name}": {
        "get": operation(
            "get",
            TAG,
            "A workflow definition",
            parameters=[_NAME, query("version", "The version; the latest when absent.", INT32)],
            responses={200: answer("The definition.", ref("WorkflowDef"))},
        ),
    },
    "/api/metadata/workflow/{name}/{version}": {
        "delete": operation(
            "unregisterWorkflowDef",
            TAG,
            "Remove a version of a workflow definition",
            parameters=[_NAME, path("version", "The version.", {**INT32, "minimum": 0})],
            responses={200: _DONE},
        ),
    },
    "/api/metadata/taskdefs": {
        "post": operation(
            "registerTaskDef",
            TAG,
            "Register task definitions (replacing those of the same names)",
            body=json_body(array(ref("TaskDef")), "The definitions."),
            responses={200: _DONE},
        ),
        "put": operation(
            "updateTaskDef",
            TAG,
            "Register or replace a task definition",
            body=json_body(ref("TaskDef"), "The definition."),
            responses={200: _DONE},
        ),
        "get": operation(
            "getTaskDefs",
            TAG,
            "Every task definition",
            responses={200: answer("The definitions.", array(ref("TaskDef")))},
        ),
    },
    "/api/metadata/taskdefs/{name}": {
        "get": operation(
            "getTaskDef",
            TAG,
            "A task definition",
            parameters=[_NAME],
            responses={200: answer("The definition.", ref("TaskDef"))},
        ),
        "delete": operation(
            "unregisterTaskDef", TAG, "Remove a task definition", parameters=[_NAME], responses={200: _DONE}
        ),
    },
}
