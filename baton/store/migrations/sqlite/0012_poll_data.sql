-- When each worker last polled each task type (``GET /api/tasks/queue/polldata``), shared by every server.
--
-- One row per (task type, domain, worker); '' stands for no domain or no worker id. Servers write
-- their polls in batches about once a second, and a row only ever moves forward in time.

CREATE TABLE poll_data (
    queue_name     TEXT    NOT NULL,
    domain         TEXT    NOT NULL,
    worker_id      TEXT    NOT NULL,
    last_poll_time INTEGER NOT NULL,
    PRIMARY KEY (queue_name, domain, worker_id)
);
