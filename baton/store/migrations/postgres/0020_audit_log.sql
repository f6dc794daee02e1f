-- Who did what (service/audit.py): one row an action, newest last. ``seq`` is the entry's id and the page
-- cursor; ``detail`` a small JSON object. Deleted by age with the run's retention (``retention_days``).
CREATE TABLE audit_log (
    seq         BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          BIGINT  NOT NULL,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    target_kind TEXT    NOT NULL,
    target_id   TEXT    NOT NULL,
    detail      TEXT    NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_by_actor ON audit_log (actor, seq);
CREATE INDEX audit_log_by_target ON audit_log (target_kind, target_id, seq);
