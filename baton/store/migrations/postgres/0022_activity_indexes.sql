-- The operations charts (store/common/activity.py): runs ended in a time range, and steps ended in one. A step's
-- end time lives in its JSON body, so its index is over that expression, for the ended steps only: written once
-- when a step ends, never for the steps still queued or running. PostgreSQL's JSON refuses the escape \u0000,
-- so the body is read with it as \u0001 (valid JSON either way), or a step with a NUL in its output could not end.
-- Only the ended runs: a decision on a running run (its end_time 0) then writes no entry of it.
CREATE INDEX runs_by_end ON runs (end_time) WHERE end_time > 0;
CREATE INDEX tasks_by_end ON tasks (((replace(body, '\u0000', '\u0001')::jsonb ->> 'endTime')::bigint))
    WHERE status IN ('COMPLETED', 'COMPLETED_WITH_ERRORS', 'FAILED', 'FAILED_WITH_TERMINAL_ERROR', 'TIMED_OUT');
