-- Run timers and the claim ledger of rate- and concurrency-limited task types (PostgreSQL).

-- When the sweeper must look at the run itself (its WorkflowDef timeoutSeconds); NULL for none.
ALTER TABLE runs ADD COLUMN timer_at BIGINT;
CREATE INDEX runs_by_timer ON runs (timer_at) WHERE timer_at IS NOT NULL;

-- One row per claim of a task type that has a rate or concurrency limit. A row
-- is kept while its task is IN_PROGRESS or its claim is inside the rate window;
-- limited claims count these rows and prune the others. No foreign key: a
-- removed run's rows are pruned like any other finished task's.
CREATE TABLE task_claims (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_type  TEXT   NOT NULL,
    task_id    TEXT   NOT NULL,
    claimed_at BIGINT NOT NULL
);
CREATE INDEX task_claims_by_type ON task_claims (task_type, claimed_at);
