-- What starts runs from outside (a definition's first step with canStartWorkflow), and the steps that wait.
--
-- triggers: one row per (kind, key, method) a workflow name's latest version declares, rewritten with its
-- definitions. shape is the key with route parameters' names left out: two names may not share an http shape
-- and method (the store checks it as it writes); many may start on one event.

CREATE TABLE triggers (
    kind             TEXT    NOT NULL,
    shape            TEXT    NOT NULL,
    method           TEXT    NOT NULL,
    workflow_name    TEXT    NOT NULL,
    key              TEXT    NOT NULL,
    workflow_version INTEGER NOT NULL,
    task_ref         TEXT    NOT NULL,
    PRIMARY KEY (kind, shape, method, workflow_name)
);
CREATE INDEX triggers_by_name ON triggers (workflow_name);

-- Steps that wait for something from outside (an event, a person, a request): found by type while they wait.
CREATE INDEX tasks_waiting ON tasks (task_type, workflow_id)
    WHERE status = 'IN_PROGRESS' AND task_type IN ('WAIT', 'HUMAN', 'HTTP_ENDPOINT');
