-- Task bodies stay inline and uncompressed up to a page (PostgreSQL).
--
-- A task body is about 2 kB (most of it the embedded workflowTask), and a claim
-- appends its fields as text, which takes a claimed task's row past the default
-- toast_tuple_target (2,032 bytes): every claim then compressed the body and the
-- next read decompressed it, about a tenth of PostgreSQL's CPU in a run of
-- worker steps. With the target at the most a page allows, a row is compressed
-- (or moved out of line) only when it would not fit a page otherwise.
ALTER TABLE tasks SET (toast_tuple_target = 8160);
