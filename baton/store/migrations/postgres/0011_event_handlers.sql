-- Event handlers (/api/event), by name; ``body`` is the EventHandler's JSON. A published event reads the
-- active handlers of its event name, hence the index.
CREATE TABLE event_handlers (
    name   TEXT    PRIMARY KEY,
    event  TEXT    NOT NULL,
    active BOOLEAN NOT NULL,
    body   TEXT    NOT NULL
);
CREATE INDEX event_handlers_by_event ON event_handlers (event, active);

-- What each handler did with each published event (an action's outcome, or a false condition), by message:
-- a message taken up again after a crash skips what is recorded here, so its actions run once.
CREATE TABLE event_executions (
    execution_id TEXT    PRIMARY KEY,
    message_id   TEXT    NOT NULL,
    created_at   BIGINT NOT NULL,
    body         TEXT    NOT NULL
);
CREATE INDEX event_executions_by_message ON event_executions (message_id);
-- Retention deletes them by age.
CREATE INDEX event_executions_by_age ON event_executions (created_at);
