-- Each task row's version, bumped by every write to it (a decision's update, a claim): a decision
-- re-decodes only the rows whose version differs from the one it decoded before (sql.TaskCache).
ALTER TABLE tasks ADD COLUMN row_version INTEGER NOT NULL DEFAULT 0;
-- Covers the per-decision read of a run's (task_id, row_version) pairs, in seq order, from the index alone.
CREATE INDEX tasks_versions_by_run ON tasks (workflow_id, seq, task_id, row_version);
