-- The dashboard's runs list filters by correlation id without a workflow name. PostgreSQL has the index
-- SQLite's 0021 adds since 0002 (runs_by_correlation_id): nothing to do here; the number is kept so both
-- dialects have the same migrations.
SELECT 1;
