-- Each task row's version, bumped by every write to it (a decision's update, a claim): a decision
-- can re-decode only the rows whose version differs from the one it decoded before (sql.TaskCache).
ALTER TABLE tasks ADD COLUMN row_version integer NOT NULL DEFAULT 0;
