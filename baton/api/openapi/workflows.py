"""The document's ``/api/workflow`` paths: starts, runs, an operator's operations, bulk operations, searches.

As ``api/conductor/workflows.py``, ``bulk.py`` and ``search.py`` serve them; the
completeness test (``tests/api/test_openapi.py``) fails when a route and this list part.
"""

from __future__ import annotations

from baton.api.openapi.spec import (
    BOOLEAN,
    IDEMPOTENCY_HEADERS,
    INT32,
    INT64,
    OBJECT,
    STRINGS,
    Paths,
    answer,
    array,
    json_body,
    map_of,
    operation,
    path,
    query,
    ref,
    search_parameters,
    text_answer,
)

TAG = "workflow-resource"
BULK_TAG = "workflow-bulk-resource"

_RUN_ID = path("workflowId", "The run's id.")
_NAME = path("name", "The workflow's name.")
_RUN = answer("The run.", ref("Workflow"))
_DONE = answer("Done.")
_RUN_ID_TEXT = text_answer("The run's id.")
_INCLUDE_CLOSED = query("includeClosed", "Ended runs too.", {**BOOLEAN, "default": False})
_INCLUDE_TASKS = query("includeTasks", "The runs' tasks too.", {**BOOLEAN, "default": False})
_EXECUTE_PARAMS = [
    query("correlationId", "The run's correlation id (when the body does not give one)."),
    query("priority", "The run's priority, 0 to 99.", INT32),
    query(
        "waitForSeconds",
        "Seconds to wait for the run, at most the server's max_wait_for_seconds (300 by default).",
        {"type": "number", "minimum": 0, "default": 10},
    ),
    query("waitUntilTaskRef", "Answer once one of these steps (comma-separated references) is reached."),
    query("requestId", "Given back in the answer; made up when absent."),
    *IDEMPOTENCY_HEADERS,
]
_EXECUTE_BODY = json_body(
    OBJECT,
    "A StartWorkflowRequest (when every key is one of its fields and it has `input` or `name`), else the input.",
    required=False,
)
_EXECUTE_ANSWERS = {
    200: answer("The run ended within the wait.", ref("WorkflowRun")),
    206: answer(
        "The run, still going when the wait ran out (or at a step it was asked to wait for).", ref("WorkflowRun")
    ),
}
_SEARCH_PARAMS = search_parameters("runs", "status IN (RUNNING,FAILED) AND workflowType = x")
_IDS_BODY = json_body(STRINGS, "The runs' ids.")
_BULK = answer("What succeeded, and why the others failed.", ref("BulkResponse"))


def _bulk(operation_id: str, summary: str, *parameters: dict[str, object]) -> dict[str, object]:
    return operation(operation_id, BULK_TAG, summary, parameters=parameters, body=_IDS_BODY, responses={200: _BULK})


paths: Paths = {
    "/api/workflow": {
        "post": operation(
            "startWorkflow",
            TAG,
            "Start a run",
            parameters=IDEMPOTENCY_HEADERS,
            body=json_body(ref("StartWorkflowRequest"), "The run to start (by name, or with its definition)."),
            responses={200: _RUN_ID_TEXT},
            errors=[404, 409],
        ),
    },
    "/api/workflow/{name}": {
        "post": operation(
            "startWorkflowByName",
            TAG,
            "Start a run of a workflow by name; the body is its input",
            parameters=[
                _NAME,
                query("version", "The definition's version; the latest when absent.", INT32),
                query("correlationId", "The run's correlation id."),
                query("priority", "The run's priority, 0 to 99.", {**INT32, "default": 0}),
                *IDEMPOTENCY_HEADERS,
            ],
            body=json_body(OBJECT, "The run's input.", required=False),
            responses={200: _RUN_ID_TEXT},
            errors=[409],
        ),
    },
    "/api/workflow/execute/{name}": {
        "post": operation(
            "executeWorkflow",
            TAG,
            "Start a run of the latest version and wait for it",
            description="The name cannot be `restart`, `retry`, `rerun` or `variables`: "
            "`/api/workflow/execute/restart` restarts the run `execute`.",
            parameters=[_NAME, *_EXECUTE_PARAMS],
            body=_EXECUTE_BODY,
            responses=_EXECUTE_ANSWERS,
            errors=[409],
        ),
    },
    "/api/workflow/execute/{name}/{version}": {
        "post": operation(
            "executeWorkflowVersion",
            TAG,
            "Start a run of a version and wait for it",
            parameters=[
                _NAME,
                path("version", "The definition's version; 0: the latest.", {**INT32, "minimum": 0}),
                *_EXECUTE_PARAMS,
            ],
            body=_EXECUTE_BODY,
            responses=_EXECUTE_ANSWERS,
            errors=[409],
        ),
    },
    "/api/workflow/{workflowId}": {
        "get": operation(
            "getExecutionStatus",
            TAG,
            "A run",
            parameters=[_RUN_ID, query("includeTasks", "With its tasks.", {**BOOLEAN, "default": True})],
            responses={200: _RUN},
        ),
        "delete": operation(
            "terminate",
            TAG,
            "Terminate a run",
            parameters=[_RUN_ID, query("reason", "Why; recorded as the run's reasonForIncompletion.")],
            responses={200: _DONE},
            errors=[409],
        ),
    },
    "/api/workflow/{workflowId}/status": {
        "get": operation(
            "getWorkflowStatusSummary",
            TAG,
            "A run's status, output and variables",
            parameters=[_RUN_ID],
            responses={200: answer("The run's status.", ref("WorkflowStatus"))},
        ),
    },
    "/api/workflow/{workflowId}/tasks": {
        "get": operation(
            "getExecutionTasks",
            TAG,
            "A page of a run's tasks",
            parameters=[
                _RUN_ID,
                query("start", "How many tasks to skip.", {**INT32, "default": 0}),
                query("count", "How many tasks to answer.", {**INT32, "default": 15}),
                query("status", "Only tasks in these statuses (repeated, or comma-separated).", STRINGS),
            ],
            responses={200: answer("The page.", ref("TaskListSearchResultSummary"))},
        ),
    },
    "/api/workflow/{workflowId}/remove": {
        "delete": operation("delete", TAG, "Remove a run and its tasks", parameters=[_RUN_ID], responses={200: _DONE}),
    },
    "/api/workflow/decide/{workflowId}": {
        "put": operation("decide", TAG, "Decide a run now", parameters=[_RUN_ID], responses={200: _DONE}, errors=[409]),
    },
    "/api/workflow/{workflowId}/pause": {
        "put": operation(
            "pauseWorkflow", TAG, "Pause a run", parameters=[_RUN_ID], responses={200: _DONE}, errors=[409]
        ),
    },
    "/api/workflow/{workflowId}/resume": {
        "put": operation(
            "resumeWorkflow", TAG, "Resume a paused run", parameters=[_RUN_ID], responses={200: _DONE}, errors=[409]
        ),
    },
    "/api/workflow/{workflowId}/restart": {
        "post": operation(
            "restart",
            TAG,
            "Restart an ended run from its start",
            parameters=[
                _RUN_ID,
                query("useLatestDefinitions", "With the latest definition.", {**BOOLEAN, "default": False}),
            ],
            responses={204: answer("Restarted.")},
            errors=[409],
        ),
    },
    "/api/workflow/{workflowId}/retry": {
        "post": operation(
            "retry",
            TAG,
            "Retry a run's failed step",
            parameters=[
                _RUN_ID,
                query("resumeSubworkflowTasks", "Retry failed sub-workflows in place.", {**BOOLEAN, "default": False}),
            ],
            responses={204: answer("Retried.")},
            errors=[409],
        ),
    },
    "/api/workflow/{workflowId}/rerun": {
        "post": operation(
            "rerun",
            TAG,
            "Run an ended run again, from the start or from one task",
            parameters=[_RUN_ID],
            body=json_body(ref("RerunWorkflowRequest"), "Where to rerun from, with what input.", required=False),
            responses={200: _RUN_ID_TEXT},
            errors=[409],
        ),
    },
    "/api/workflow/{workflowId}/skiptask/{taskReferenceName}": {
        "put": operation(
            "skipTaskFromWorkflow",
            TAG,
            "Skip a step of a running run",
            parameters=[
                _RUN_ID,
                path("taskReferenceName", "The step's reference name."),
                query("skipTaskRequest", "A SkipTaskRequest as JSON, when there is no body."),
            ],
            body=json_body(ref("SkipTaskRequest"), "The skipped task's input and output.", required=False),
            responses={200: _DONE},
            errors=[409],
        ),
    },
    "/api/workflow/{workflowId}/variables": {
        "post": operation(
            "updateWorkflowVariables",
            TAG,
            "Set a run's variables (merged into them)",
            parameters=[_RUN_ID],
            body=json_body(OBJECT, "The variables to set."),
            responses={200: _RUN},
            errors=[409],
        ),
    },
    "/api/workflow/{name}/correlated/{correlationId}": {
        "get": operation(
            "getWorkflows1",
            TAG,
            "A workflow's runs with a correlation id",
            parameters=[_NAME, path("correlationId", "The correlation id."), _INCLUDE_CLOSED, _INCLUDE_TASKS],
            responses={200: answer("The runs.", array(ref("Workflow")))},
        ),
    },
    "/api/workflow/{name}/correlated": {
        "post": operation(
            "getWorkflows",
            TAG,
            "A workflow's runs for each of several correlation ids",
            parameters=[_NAME, _INCLUDE_CLOSED, _INCLUDE_TASKS],
            body=json_body(STRINGS, "The correlation ids."),
            responses={200: answer("Each correlation id's runs.", map_of(array(ref("Workflow"))))},
        ),
    },
    "/api/workflow/test": {
        "post": operation(
            "testWorkflow",
            TAG,
            "Run a workflow with its worker tasks' outputs given",
            body=json_body(ref("WorkflowTestRequest"), "The run, and the mocked outputs of its worker tasks."),
            responses={200: _RUN},
            errors=[404],
        ),
    },
    "/api/workflow/running/{name}": {
        "get": operation(
            "getRunningWorkflow",
            TAG,
            "The ids of a workflow's running runs",
            parameters=[
                _NAME,
                query("version", "Only this version's.", INT32),
                query("startTime", "Only runs started at or after (epoch ms).", INT64),
                query("endTime", "Only runs started at or before (epoch ms).", INT64),
            ],
            responses={200: answer("The runs' ids.", STRINGS)},
        ),
    },
    "/api/workflow/search": {
        "get": operation(
            "search",
            TAG,
            "Search runs",
            parameters=_SEARCH_PARAMS,
            responses={200: answer("A page of summaries.", ref("SearchResultWorkflowSummary"))},
        ),
    },
    "/api/workflow/search-v2": {
        "get": operation(
            "searchV2",
            TAG,
            "Search runs, answering whole runs (without their tasks)",
            parameters=_SEARCH_PARAMS,
            responses={200: answer("A page of runs.", ref("SearchResultWorkflow"))},
        ),
    },
    "/api/workflow/bulk/pause": {"put": _bulk("pauseWorkflowBulk", "Pause runs")},
    "/api/workflow/bulk/resume": {"put": _bulk("resumeWorkflowBulk", "Resume runs")},
    "/api/workflow/bulk/restart": {
        "post": _bulk(
            "restartBulk",
            "Restart runs",
            query("useLatestDefinitions", "With the latest definitions.", {**BOOLEAN, "default": False}),
        ),
    },
    "/api/workflow/bulk/retry": {"post": _bulk("retryBulk", "Retry runs")},
    "/api/workflow/bulk/terminate": {
        "post": _bulk("terminateBulk", "Terminate runs", query("reason", "Why.")),
    },
}
