-- Who may call the API: applications (their roles a JSON list; the task types and queues their WORKER and
-- REVIEWER roles are limited to, JSON lists or NULL for all), their access keys (the secret only as a slow hash),
-- and values the servers on one database share, such as the secret tokens are signed with.
CREATE TABLE applications (
    application_id TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    roles          TEXT    NOT NULL,
    task_types     TEXT,
    queues         TEXT,
    created_at     INTEGER NOT NULL
);

CREATE TABLE access_keys (
    key_id         TEXT    PRIMARY KEY,
    application_id TEXT    NOT NULL REFERENCES applications (application_id) ON DELETE CASCADE,
    secret_hash    TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX access_keys_application ON access_keys (application_id);

CREATE TABLE access_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
