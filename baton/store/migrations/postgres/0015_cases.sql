-- Ballerine's entities and the cases of its back office (service/cases.py, store/common/cases.py).
--
-- An entity is a caller's business or individual: Baton's id for it (ballerineEntityId) per (type, caller's id).
CREATE TABLE ballerine_entities (
    entity_id   TEXT    PRIMARY KEY,
    entity_type TEXT    NOT NULL,
    external_id TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    UNIQUE (entity_type, external_id)
);

-- What is kept beside a run started through /api/v1 or handled as a case: its entity (and the name the case
-- list searches), the config it was started with (JSON), its assignee and its last decision. A run of a case
-- definition started elsewhere has no row until someone assigns or decides it. Removed with the run.
CREATE TABLE cases (
    workflow_id   TEXT    PRIMARY KEY REFERENCES runs (workflow_id) ON DELETE CASCADE,
    workflow_name TEXT    NOT NULL,
    entity_id     TEXT    REFERENCES ballerine_entities (entity_id),
    entity_name   TEXT,
    config        TEXT    NOT NULL,
    assignee_id   TEXT,
    assigned_at   BIGINT,
    last_decision TEXT,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX cases_by_entity ON cases (entity_id);

-- Reviewers' decisions on a case, in order (seq from 1).
CREATE TABLE case_decisions (
    workflow_id TEXT    NOT NULL REFERENCES runs (workflow_id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    decision    TEXT    NOT NULL,
    reviewer    TEXT,
    reason      TEXT,
    task_id     TEXT,
    decided_at  BIGINT  NOT NULL,
    PRIMARY KEY (workflow_id, seq)
);

-- Saved queries of the case list (Ballerine's filters: its queues); query is JSON.
CREATE TABLE case_filters (
    filter_id  TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    entity     TEXT    NOT NULL,
    query      TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);
