-- The dashboard's runs list filters by correlation id without a workflow name (SQLite).
--
-- runs_by_correlation (0001) leads with the name: without one, SQLite reads it only by skipping through the
-- names, which it does once the planner has statistics (ANALYZE, or PRAGMA optimize when the store closes);
-- until then such a search read every run (0.7 s over 100,000). Partial, as that one: a decision rewrites the
-- entry of a run that has a correlation id (its UPDATE sets the column), and no other run has one.
CREATE INDEX runs_by_correlation_id ON runs (correlation_id, create_time) WHERE correlation_id IS NOT NULL;
