-- The operations charts (store/common/activity.py). Runs ended in a time range, by an index over the ended runs
-- only: a decision on a running run (its end_time 0) writes no entry of it.
CREATE INDEX runs_by_end ON runs (end_time) WHERE end_time > 0;

-- Steps' durations, counted by each server as its steps end (service/step_ends.py) and added here every few
-- seconds: how many steps of a task type that ended in a minute took a duration in a bucket. Nothing on the
-- hot path reads a step's body for it (an index over the ended steps' JSON cost SQLite 10 % of W1).
CREATE TABLE step_durations (
    minute    BIGINT NOT NULL,
    task_type TEXT    NOT NULL,
    bucket    INTEGER NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (minute, task_type, bucket)
);
