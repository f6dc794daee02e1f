-- Search over runs (``/api/workflow/search``) and retention (SQLite).
--
-- Only columns that no decision's UPDATE sets (create_time, name) are indexed
-- here: SQLite rewrites the entries of every index on a column an UPDATE sets,
-- whether or not its value changed, and every decision updates its run. So
-- status, correlation id and end time filters on SQLite use the indexes of
-- 0001 or read the rows; freeText reads them (LIKE).

-- Newest first (the default order), time ranges, and retention's batches.
CREATE INDEX runs_by_start ON runs (create_time, workflow_id);
-- workflowType filters, newest first; /api/workflow/running/{name}.
CREATE INDEX runs_by_name_start ON runs (name, create_time);
