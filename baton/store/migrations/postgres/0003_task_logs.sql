-- Task execution logs (``POST /api/tasks/{taskId}/log``, and a worker result's ``logs``).
--
-- A log line belongs to its task: deleting the task (a restart or rerun removes
-- tasks) or its run deletes its lines. ``id`` gives the order they were added in.
-- ``log`` holds the line as a JSON string (PostgreSQL text cannot hold NUL).

CREATE TABLE task_logs (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id      TEXT   NOT NULL REFERENCES tasks (task_id) ON DELETE CASCADE,
    created_time BIGINT NOT NULL,
    log          TEXT   NOT NULL
);
CREATE INDEX task_logs_by_task ON task_logs (task_id, id);
