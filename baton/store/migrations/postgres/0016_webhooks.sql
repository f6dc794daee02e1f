-- Outgoing webhooks. Server-wide subscriptions (/api/v1/webhooks), by id; ``events`` is a JSON list of names.
CREATE TABLE webhooks (
    webhook_id TEXT    PRIMARY KEY,
    url        TEXT    NOT NULL,
    events     TEXT    NOT NULL,
    secret     TEXT,
    enabled    BOOLEAN NOT NULL,
    created_at BIGINT  NOT NULL,
    updated_at BIGINT  NOT NULL
);

-- A run's own subscriptions (Ballerine's ``config.subscriptions``, a JSON list), gone with the run. ``watching``:
-- the run's end is not yet recorded as an event; the catch-up reads only those rows.
CREATE TABLE webhook_run_subscriptions (
    workflow_id   TEXT    PRIMARY KEY REFERENCES runs (workflow_id) ON DELETE CASCADE,
    subscriptions TEXT    NOT NULL,
    watching      BOOLEAN NOT NULL,
    created_at    BIGINT  NOT NULL
);
CREATE INDEX webhook_run_subscriptions_watching ON webhook_run_subscriptions (workflow_id) WHERE watching;

-- One event for one subscription: its exact body and signature, fixed when recorded, and where its delivery
-- stands. ``seq`` orders a run's deliveries to one subscription; (event_key, subscription) makes recording an
-- event twice (a signal acted on again) record it once.
CREATE TABLE webhook_deliveries (
    seq              BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id      TEXT    NOT NULL UNIQUE,
    event_key        TEXT    NOT NULL,
    subscription     TEXT    NOT NULL,
    workflow_id      TEXT    NOT NULL,
    event_name       TEXT    NOT NULL,
    url              TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    signature        TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    next_attempt_at  BIGINT  NOT NULL,
    give_up_at       BIGINT  NOT NULL,
    lease_until      BIGINT  NOT NULL DEFAULT 0,
    claim_token      TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_status_code INTEGER,
    last_error       TEXT,
    delivered_at     BIGINT,
    UNIQUE (event_key, subscription)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_chain ON webhook_deliveries (workflow_id, subscription, seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_status ON webhook_deliveries (status, seq);
CREATE INDEX webhook_deliveries_by_run ON webhook_deliveries (workflow_id, seq);
CREATE INDEX webhook_deliveries_by_age ON webhook_deliveries (created_at);

-- Every attempt to deliver: when, the answer's status code or the error, and how long it took.
CREATE TABLE webhook_attempts (
    delivery_id TEXT    NOT NULL REFERENCES webhook_deliveries (delivery_id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          BIGINT  NOT NULL,
    status_code INTEGER,
    error       TEXT,
    duration_ms INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
);
