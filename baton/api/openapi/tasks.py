"""The document's ``/api/tasks`` paths: the worker API, completing a step by reference, logs, queues, searches.

As ``api/conductor/tasks.py`` and ``search.py`` serve them.
"""

from __future__ import annotations

from baton.api.openapi.spec import (
    INT32,
    OBJECT,
    STRING,
    STRINGS,
    TEXT,
    Paths,
    answer,
    array,
    enum,
    json_body,
    map_of,
    operation,
    path,
    query,
    ref,
    search_parameters,
    text_answer,
)
from baton.model import TaskResultStatus

TAG = "task-resource"

_TASK_TYPE = path("taskType", "The task type (a worker's task name).")
_TASK_ID = path("taskId", "The task's id.")
_WORKER_ID = query("workerid", "Who polls (or reports): recorded on the task.")
_RESULT = json_body(ref("TaskResult"), "The worker's result.")
_NO_TASK = answer("No task was ready.")
_BY_REFERENCE = [
    path("workflowId", "The run's id."),
    path("taskRefName", "The step's reference name."),
    path(
        "status",
        "The step's new status (any case).",
        enum(TaskResultStatus),
    ),
    _WORKER_ID,
]
_OUTPUT = json_body(OBJECT, "The step's output.", required=False)
_SEARCH_PARAMS = search_parameters("tasks", "status IN (SCHEDULED) AND taskType = x")
_POLL_DATA = answer("The last poll of each queue, domain and worker.", array(ref("PollData")))

paths: Paths = {
    "/api/tasks/poll/{taskType}": {
        "get": operation(
            "poll",
            TAG,
            "Claim a task of a type, if one is ready",
            parameters=[_TASK_TYPE, _WORKER_ID],
            responses={200: answer("The task, now IN_PROGRESS.", ref("Task")), 204: _NO_TASK},
        ),
    },
    "/api/tasks/poll/batch/{taskType}": {
        "get": operation(
            "batchPoll",
            TAG,
            "Claim up to `count` tasks of a type, waiting up to `timeout` ms for the first",
            parameters=[
                _TASK_TYPE,
                _WORKER_ID,
                query(
                    "count",
                    "At most this many (up to the server's max_poll_count).",
                    {**INT32, "minimum": 1, "default": 1},
                ),
                query(
                    "timeout",
                    "Wait this long (ms, up to the server's max_poll_timeout_ms) for a task.",
                    {**INT32, "minimum": 0, "default": 100},
                ),
            ],
            responses={200: answer("The tasks claimed, perhaps none.", array(ref("Task")))},
        ),
    },
    "/api/tasks": {
        "post": operation(
            "updateTask",
            TAG,
            "Report a task's result",
            body=_RESULT,
            responses={200: text_answer("The task's id.")},
            errors=[404, 409],
        ),
    },
    "/api/tasks/update-v2": {
        "post": operation(
            "updateTaskV2",
            TAG,
            "Report a task's result, and claim the next task of its type",
            body=_RESULT,
            responses={200: answer("The next task, now IN_PROGRESS.", ref("Task")), 204: _NO_TASK},
            errors=[404, 409],
        ),
    },
    "/api/tasks/{workflowId}/{taskRefName}/{status}": {
        "post": operation(
            "updateTaskByRefName",
            TAG,
            "Set the status and output of a run's step, named by its reference",
            parameters=_BY_REFERENCE,
            body=_OUTPUT,
            responses={200: text_answer("The task's id.")},
            errors=[409],
        ),
    },
    "/api/tasks/{workflowId}/{taskRefName}/{status}/sync": {
        "post": operation(
            "updateTaskSync",
            TAG,
            "Set the status and output of a run's step, and answer the run",
            parameters=_BY_REFERENCE,
            body=_OUTPUT,
            responses={200: answer("The run, the update applied.", ref("Workflow"))},
            errors=[409],
        ),
    },
    "/api/tasks/{taskId}": {
        "get": operation(
            "getTask", TAG, "A task", parameters=[_TASK_ID], responses={200: answer("The task.", ref("Task"))}
        ),
    },
    "/api/tasks/{taskId}/log": {
        "post": operation(
            "log",
            TAG,
            "Add a line to a task's logs",
            parameters=[_TASK_ID],
            body={
                "required": True,
                "description": "The line: a JSON string, or plain text.",
                "content": {"application/json": {"schema": STRING}, TEXT: {"schema": STRING}},
            },
            responses={200: answer("Added.")},
        ),
        "get": operation(
            "getTaskLogs",
            TAG,
            "A task's logs",
            parameters=[_TASK_ID],
            responses={200: answer("The lines, oldest first.", array(ref("TaskExecLog")))},
        ),
    },
    "/api/tasks/queue/sizes": {
        "get": operation(
            "size",
            TAG,
            "How many tasks wait in each queue",
            parameters=[query("taskType", "Only these task types (repeated); every queue when absent.", STRINGS)],
            responses={200: answer("Each task type's count.", map_of({"type": "integer"}))},
        ),
    },
    "/api/tasks/queue/polldata": {
        "get": operation(
            "getPollData",
            TAG,
            "When workers last polled a task type",
            parameters=[query("taskType", "The task type.", STRING, required=True)],
            responses={200: _POLL_DATA},
        ),
    },
    "/api/tasks/queue/polldata/all": {
        "get": operation("getAllPollData", TAG, "When workers last polled each task type", responses={200: _POLL_DATA}),
    },
    "/api/tasks/search": {
        "get": operation(
            "searchTasks",
            TAG,
            "Search tasks",
            parameters=_SEARCH_PARAMS,
            responses={200: answer("A page of summaries.", ref("SearchResultTaskSummary"))},
        ),
    },
    "/api/tasks/search-v2": {
        "get": operation(
            "searchTasksV2",
            TAG,
            "Search tasks, answering whole tasks",
            parameters=_SEARCH_PARAMS,
            responses={200: answer("A page of tasks.", ref("SearchResultTask"))},
        ),
    },
}
