-- What the webhooks last told of a run (service/run_changes.py): its state, and its documents' decisions (a JSON
-- object, document id -> status). version counts the changes told: a check records a change only over the
-- version it read, so two checks at once, or one signal acted on twice, record it once. Gone with the run.
CREATE TABLE webhook_run_states (
    workflow_id TEXT    PRIMARY KEY REFERENCES runs (workflow_id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    state       TEXT,
    documents   TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL
);
