-- Baton's initial schema (PostgreSQL).
--
-- ``body`` columns hold the msgspec JSON of the struct (TEXT, not jsonb: the
-- store never queries inside them, and parsing jsonb on every write costs).
-- The other columns are the few fields that are searched, ordered or locked on.

CREATE TABLE workflow_defs (
    name        TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    create_time BIGINT,
    body        TEXT    NOT NULL,
    PRIMARY KEY (name, version)
);

CREATE TABLE task_defs (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

-- Content-addressed: hash is the sha256 of body. Never updated, never deleted.
CREATE TABLE definition_snapshots (
    hash TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

CREATE TABLE runs (
    workflow_id    TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    version        INTEGER NOT NULL,
    status         TEXT    NOT NULL,
    correlation_id TEXT,
    priority       INTEGER NOT NULL,
    create_time    BIGINT  NOT NULL,
    update_time    BIGINT  NOT NULL,
    end_time       BIGINT  NOT NULL,
    snapshot_hash  TEXT    NOT NULL REFERENCES definition_snapshots (hash),
    -- Bumped by every decision: tells a decision whether what it read is what it locked.
    row_version    BIGINT  NOT NULL DEFAULT 0,
    body           TEXT    NOT NULL
-- Every decision rewrites its run's row; free room in each page lets the new
-- version stay on it (a HOT update), with no new index entries.
) WITH (fillfactor = 70);
CREATE INDEX runs_by_correlation ON runs (name, correlation_id, create_time DESC)
    WHERE correlation_id IS NOT NULL;
CREATE INDEX runs_by_status ON runs (status, name);

CREATE TABLE tasks (
    task_id     TEXT    PRIMARY KEY,
    workflow_id TEXT    NOT NULL REFERENCES runs (workflow_id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    ref         TEXT    NOT NULL,
    task_type   TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    -- When the sweeper must look at this task (lease expiry, WAIT time); NULL for none.
    timer_at    BIGINT,
    body        TEXT    NOT NULL
);
CREATE INDEX tasks_by_run ON tasks (workflow_id, seq);
CREATE INDEX tasks_by_timer ON tasks (timer_at) WHERE timer_at IS NOT NULL;

-- The work queue: one row per SCHEDULED worker task. id gives FIFO order.
CREATE TABLE queue (
    id         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id    TEXT    NOT NULL UNIQUE REFERENCES tasks (task_id) ON DELETE CASCADE,
    task_type  TEXT    NOT NULL,
    priority   INTEGER NOT NULL,
    visible_at BIGINT  NOT NULL
);
CREATE INDEX queue_claim_order ON queue (task_type, priority DESC, visible_at, id);

-- Deferred: create_run takes the key before it inserts the run the key points at.
CREATE TABLE idempotency_keys (
    key         TEXT PRIMARY KEY,
    workflow_id TEXT NOT NULL
        REFERENCES runs (workflow_id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX idempotency_keys_by_run ON idempotency_keys (workflow_id);
