-- What a claim reads of a queued task, in its queue row (PostgreSQL).
--
-- A claim needs each task's responseTimeoutSeconds (its lease) and pollCount;
-- reading them from the task's JSON body parsed the whole body, twice. The
-- decision that queues a task knows both and writes them here. NULL in a row
-- queued before this migration: the claim reads those from the body.
ALTER TABLE queue ADD COLUMN response_timeout_seconds BIGINT, ADD COLUMN poll_count BIGINT;
