-- A decision no longer checks its run's task versions against the database (the commit group reads
-- data_version instead, see sqlite_commits.py), so the index that covered that check goes: every task
-- write changed an entry in it. Reading a run's versions afresh (a run this process has no copy of)
-- walks tasks_by_run.
DROP INDEX tasks_versions_by_run;
