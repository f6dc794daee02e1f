-- The outbox: what a decision asks of other runs (a child's result for its parent,
-- a terminated parent's children, a failure workflow to start), written in the
-- decision's transaction and deleted once acted on. ``body`` is the Signal's JSON.
CREATE TABLE outbox (
    signal_id  TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL,
    body       TEXT    NOT NULL
);
CREATE INDEX outbox_by_age ON outbox (created_at);
