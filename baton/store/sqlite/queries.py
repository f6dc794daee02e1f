"""SQLite's statements, each built once at import."""

from __future__ import annotations

CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)"""
SELECT_APPLIED_MIGRATIONS = "SELECT version FROM schema_migrations"
INSERT_APPLIED_MIGRATION = "INSERT INTO schema_migrations (version, name) VALUES (?, ?)"


INSERT_SNAPSHOT = "INSERT INTO definition_snapshots (hash, body) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING"
SELECT_SNAPSHOT = "SELECT body FROM definition_snapshots WHERE hash = ?"
SELECT_RUN_SNAPSHOT = """
SELECT s.body FROM runs r JOIN definition_snapshots s ON s.hash = r.snapshot_hash WHERE r.workflow_id = ?"""

SELECT_RUN_STATUS = "SELECT status FROM runs WHERE workflow_id = ?"

INSERT_RUN = """
INSERT INTO runs (workflow_id, name, version, status, correlation_id, priority,
                  create_time, update_time, end_time, snapshot_hash, body, timer_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (workflow_id) DO NOTHING"""
UPDATE_RUN = """
UPDATE runs SET status = ?1, correlation_id = ?2, priority = ?3, update_time = ?4, end_time = ?5, body = ?6,
                row_version = row_version + 1, timer_at = ?8
WHERE workflow_id = ?7"""
SELECT_RUN = "SELECT body FROM runs WHERE workflow_id = ?"
SELECT_RUN_FOR_DECISION = "SELECT body, snapshot_hash FROM runs WHERE workflow_id = ?"
SELECT_RUN_TASKS = "SELECT body FROM tasks WHERE workflow_id = ? ORDER BY seq"
SELECT_RUN_TASKS_UP_TO = "SELECT body FROM tasks WHERE workflow_id = ? ORDER BY seq LIMIT ?"
SELECT_RUN_TASKS_AFTER = "SELECT seq, body FROM tasks WHERE workflow_id = ? AND seq > ? ORDER BY seq LIMIT ?"
COUNT_RUN_TASKS_BY_STATUS = "SELECT status, count(*) FROM tasks WHERE workflow_id = ? GROUP BY status"
SELECT_RUN_TASK_PAGE = """
SELECT body FROM tasks
WHERE workflow_id = ?1 AND (?2 = '[]' OR status IN (SELECT value FROM json_each(?2)))
ORDER BY seq LIMIT ?3 OFFSET ?4"""
SELECT_RUN_TASK_VERSIONS = "SELECT task_id, row_version FROM tasks WHERE workflow_id = ? ORDER BY seq"
SELECT_TASK_BODIES = """
SELECT task_id, row_version, body FROM tasks
WHERE workflow_id = ? AND task_id IN (SELECT value FROM json_each(?))"""
SELECT_CORRELATED_RUNS = """
SELECT workflow_id, body FROM runs
WHERE name = ? AND correlation_id = ? AND (? OR status IN ('RUNNING', 'PAUSED'))
ORDER BY create_time DESC, workflow_id DESC"""
SELECT_TASKS_OF_RUNS = """
SELECT workflow_id, body FROM tasks
WHERE workflow_id IN (SELECT value FROM json_each(?))
ORDER BY workflow_id, seq"""
DELETE_RUN = "DELETE FROM runs WHERE workflow_id = ?"
"""Its tasks, queue rows and idempotency key go with it (ON DELETE CASCADE)."""
SELECT_TASK_IDS_OF_RUN = "SELECT task_id FROM tasks WHERE workflow_id = ? LIMIT ?"
DELETE_TASKS_BY_ID = "DELETE FROM tasks WHERE task_id IN (SELECT value FROM json_each(?))"
"""By primary key (with ``workflow_id = ?`` too, SQLite walks the run's index for every chunk). Their queue rows
and log lines go with them (ON DELETE CASCADE)."""

INSERT_TASK = """
INSERT INTO tasks (task_id, workflow_id, seq, ref, task_type, status, timer_at, body)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)"""
UPDATE_TASK = """
UPDATE tasks SET status = ?, timer_at = ?, body = ?, row_version = row_version + 1
WHERE task_id = ? AND workflow_id = ? AND status = ?"""
DELETE_TASK = "DELETE FROM tasks WHERE task_id = ? AND workflow_id = ?"
"""Its queue row and log lines go with it (ON DELETE CASCADE)."""
UPDATE_RUN_SNAPSHOT = "UPDATE runs SET snapshot_hash = ?, version = ? WHERE workflow_id = ?"
SELECT_TASK = "SELECT body FROM tasks WHERE task_id = ?"
SELECT_WORKFLOW_ID_OF_TASK = "SELECT workflow_id FROM tasks WHERE task_id = ?"

UPSERT_QUEUE = """
INSERT INTO queue (task_id, task_type, priority, visible_at) VALUES (?, ?, ?, ?)
ON CONFLICT (task_id) DO UPDATE SET
    task_type = excluded.task_type, priority = excluded.priority, visible_at = excluded.visible_at"""
DELETE_QUEUE_BY_TASK = "DELETE FROM queue WHERE task_id = ?"
INSERT_SIGNAL = "INSERT INTO outbox (signal_id, created_at, body) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
PICK_QUEUED = """
SELECT q.id, t.body, t.row_version FROM queue q JOIN tasks t ON t.task_id = q.task_id
WHERE q.task_type = ? AND q.visible_at <= ? AND t.status = 'SCHEDULED'
ORDER BY q.priority DESC, q.visible_at, q.id
LIMIT ?"""
DELETE_QUEUE_BY_ID = "DELETE FROM queue WHERE id = ?"
CLAIM_TASK = """
UPDATE tasks SET status = 'IN_PROGRESS', timer_at = ?, body = ?, row_version = row_version + 1
WHERE task_id = ? AND status = 'SCHEDULED'"""
INSERT_TASK_LOG = "INSERT INTO task_logs (task_id, created_time, log) VALUES (?, ?, ?)"

COUNT_QUEUED = "SELECT task_type, count(*) FROM queue GROUP BY task_type"
COUNT_QUEUED_OF = """
SELECT task_type, count(*) FROM queue
WHERE task_type IN (SELECT value FROM json_each(?))
GROUP BY task_type"""
# Each side stops at the limit on its own index, so a backlog of due timers is not read whole.
SELECT_DUE_TIMERS = """
SELECT * FROM (SELECT workflow_id, task_id, timer_at FROM tasks
               WHERE timer_at IS NOT NULL AND timer_at <= ?1 ORDER BY timer_at, task_id LIMIT ?2)
UNION ALL
SELECT * FROM (SELECT workflow_id, NULL, timer_at FROM runs
               WHERE timer_at IS NOT NULL AND timer_at <= ?1 ORDER BY timer_at LIMIT ?2)
ORDER BY 3, 2
LIMIT ?2"""
# A limited claim: prune the ledger, count it, claim, record the claims (see ClaimLimits).
PRUNE_CLAIM_LEDGER = """
DELETE FROM task_claims
WHERE task_type = ?1 AND claimed_at <= ?2
  AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_id = task_claims.task_id AND t.status = 'IN_PROGRESS')"""
COUNT_CLAIM_LEDGER = """
SELECT (SELECT count(DISTINCT c.task_id) FROM task_claims c JOIN tasks t ON t.task_id = c.task_id
        WHERE c.task_type = ?1 AND t.status = 'IN_PROGRESS'),
       (SELECT count(*) FROM task_claims WHERE task_type = ?1 AND claimed_at > ?2)"""
INSERT_CLAIM_LEDGER = "INSERT INTO task_claims (task_type, task_id, claimed_at) VALUES (?, ?, ?)"
