-- Search over runs (``/api/workflow/search``) and retention (PostgreSQL).
--
-- Only columns a decision never changes (create_time, name), or changes once
-- when the run ends (status), lead these indexes, so a decision's update of its
-- run stays HOT (no new index entries) as before.

-- freeText: the words of a run's id, correlation id and input, set by a trigger
-- when the run is inserted and again when it is reopened (it becomes RUNNING
-- from another status: a rerun may bring a new input) or its correlation id
-- changes; no other decision pays for it. 'simple': no stemming, lower case. A
-- body PostgreSQL's JSON cannot read as text (a \u0000 escape) is indexed whole
-- instead of its input.
CREATE FUNCTION baton_run_search_vector(workflow_id text, correlation_id text, body text)
RETURNS tsvector LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    input_text text;
BEGIN
    BEGIN
        input_text := (body::json -> 'input')::text;
    EXCEPTION WHEN data_exception THEN
        input_text := body;
    END;
    -- Bounded: a tsvector holds at most 1 MB, and a huge input should not slow a start down.
    RETURN to_tsvector('simple', left(workflow_id || ' ' || coalesce(correlation_id, '') || ' '
                                      || coalesce(input_text, ''), 65536));
END $$;

CREATE FUNCTION baton_runs_set_search_vector() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.search_vector := baton_run_search_vector(NEW.workflow_id, NEW.correlation_id, NEW.body);
    RETURN NEW;
END $$;

ALTER TABLE runs ADD COLUMN search_vector tsvector;
UPDATE runs SET search_vector = baton_run_search_vector(workflow_id, correlation_id, body);
CREATE TRIGGER runs_search_vector BEFORE INSERT ON runs
    FOR EACH ROW EXECUTE FUNCTION baton_runs_set_search_vector();
CREATE TRIGGER runs_search_vector_reopened BEFORE UPDATE ON runs
    FOR EACH ROW
    WHEN ((NEW.status = 'RUNNING' AND OLD.status <> 'RUNNING')
          OR OLD.correlation_id IS DISTINCT FROM NEW.correlation_id)
    EXECUTE FUNCTION baton_runs_set_search_vector();
CREATE INDEX runs_by_search_vector ON runs USING gin (search_vector);

-- Newest first (the default order), time ranges, and retention's batches.
-- status and end_time ride along (INCLUDE) so that counting the hits of a
-- status or end-time filter reads the index alone; they change when the run
-- ends, an update that changes status (indexed since 0001) anyway.
CREATE INDEX runs_by_start ON runs (create_time, workflow_id) INCLUDE (status, end_time);
-- workflowType filters, newest first; /api/workflow/running/{name}.
CREATE INDEX runs_by_name_start ON runs (name, create_time) INCLUDE (status, end_time);
-- status filters, newest first.
CREATE INDEX runs_by_status_start ON runs (status, create_time);
-- correlationId without a workflowType (runs_by_correlation leads with the name).
CREATE INDEX runs_by_correlation_id ON runs (correlation_id) WHERE correlation_id IS NOT NULL;

-- Task searches by type and status (a claim or a result changes a task's
-- status and timer, so those updates make new index entries anyway).
CREATE INDEX tasks_by_type_status ON tasks (task_type, status);
