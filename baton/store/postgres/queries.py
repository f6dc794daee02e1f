"""PostgreSQL's statements: the hot path's (starts, decisions, claims) and the rest, each built once at import."""

from __future__ import annotations

MIGRATION_LOCK = "SELECT pg_advisory_xact_lock(7261946083341220001)"
"""Serialises processes that start at once against one database; the number is Baton's own."""
CREATE_MIGRATIONS_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""
SELECT_APPLIED_MIGRATIONS = "SELECT version FROM schema_migrations"
INSERT_APPLIED_MIGRATION = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"


SELECT_SNAPSHOT = "SELECT body FROM definition_snapshots WHERE hash = $1"
SELECT_RUN_SNAPSHOT = """
SELECT s.body FROM runs r JOIN definition_snapshots s ON s.hash = r.snapshot_hash WHERE r.workflow_id = $1"""


RUNS_PRIMARY_KEY = "runs_pkey"
"""Violated by a run id that is taken: a ConflictError, not a driver error."""
# The rows of a new run, all in one statement. A NULL snapshot body means it is known to be stored.
CREATE_RUN = """
WITH snapshot AS (
    INSERT INTO definition_snapshots (hash, body)
    SELECT $1, $2::text WHERE $2::text IS NOT NULL
    ON CONFLICT (hash) DO NOTHING
), run AS (
    INSERT INTO runs (workflow_id, name, version, status, correlation_id, priority,
                      create_time, update_time, end_time, snapshot_hash, body, timer_at)
    VALUES ($3, $4, $5, $6, $7, $8, $9, $10, $11, $1, $12, $25)
), inserted AS (
    INSERT INTO tasks (task_id, workflow_id, seq, ref, task_type, status, timer_at, body)
    SELECT * FROM unnest($13::text[], $14::text[], $15::int[],
                         $16::text[], $17::text[], $18::text[],
                         $19::bigint[], $20::text[])
), enqueued AS (
    INSERT INTO queue (task_id, task_type, priority, visible_at, response_timeout_seconds, poll_count)
    SELECT * FROM unnest($21::text[], $22::text[], $23::int[], $24::bigint[], $26::bigint[], $27::bigint[])
)
SELECT 1"""
SELECT_RUN = "SELECT body, NULL::text[] FROM runs WHERE workflow_id = $1"
SELECT_RUN_WITH_FIRST_TASKS = """
SELECT r.body, ARRAY(SELECT t.body FROM tasks t WHERE t.workflow_id = r.workflow_id ORDER BY t.seq LIMIT $2)
FROM runs r WHERE r.workflow_id = $1"""
SELECT_RUN_JSON = """
SELECT r.body, t.seqs, t.statuses, t.bodies
FROM runs r, LATERAL (
    SELECT array_agg(seq ORDER BY seq) AS seqs, array_agg(status ORDER BY seq) AS statuses,
           array_agg(body ORDER BY seq) AS bodies
    FROM (SELECT seq, status, body FROM tasks WHERE workflow_id = $1 ORDER BY seq LIMIT $2) first
) t
WHERE r.workflow_id = $1"""
SELECT_RUN_TASKS_AFTER = """
SELECT seq, status, body FROM tasks WHERE workflow_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"""
SELECT_RUN_TASK_PAGE = """
SELECT EXISTS (SELECT 1 FROM runs WHERE workflow_id = $1),
       ARRAY(SELECT ARRAY[status, count(*)::text] FROM tasks WHERE workflow_id = $1 GROUP BY status),
       ARRAY(SELECT body FROM tasks WHERE workflow_id = $1 AND (cardinality($2::text[]) = 0 OR status = ANY($2))
             ORDER BY seq LIMIT $3 OFFSET $4)"""
"""One statement, so one snapshot: whether the run exists, its tasks counted by status, and the page."""
SELECT_RUN_WITH_TASKS = """
SELECT r.body, ARRAY(SELECT t.body FROM tasks t WHERE t.workflow_id = r.workflow_id ORDER BY t.seq)
FROM runs r WHERE r.workflow_id = $1"""
SELECT_CORRELATED_RUNS = """
SELECT r.body,
       CASE WHEN $1
            THEN ARRAY(SELECT t.body FROM tasks t WHERE t.workflow_id = r.workflow_id ORDER BY t.seq)
       END
FROM runs r
WHERE r.name = $2 AND r.correlation_id = $3
  AND ($4 OR r.status IN ('RUNNING', 'PAUSED'))
ORDER BY r.create_time DESC, r.workflow_id DESC"""
DELETE_RUN = "DELETE FROM runs WHERE workflow_id = $1"
"""Its tasks and their queue rows go with it (migration 0009's delete triggers), its key and task logs by ON
DELETE CASCADE."""

DELETE_TASKS = "DELETE FROM tasks WHERE workflow_id = $1 AND task_id = ANY($2::text[])"
"""Their queue rows go with them (a delete trigger, migration 0009), their log lines by ON DELETE CASCADE."""
# The snapshot row and the run's pointer to it in one statement (as CREATE_RUN does).
REPLACE_RUN_SNAPSHOT = """
WITH snapshot AS (
    INSERT INTO definition_snapshots (hash, body) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING
)
UPDATE runs SET snapshot_hash = $1, version = $3 WHERE workflow_id = $4"""
SELECT_TASK = "SELECT body FROM tasks WHERE task_id = $1"
SELECT_WORKFLOW_ID_OF_TASK = "SELECT workflow_id FROM tasks WHERE task_id = $1"

# The claim, as CTEs that CLAIM_TASKS and WRITE_DECISION share (filled in once, at import: each is one
# prepared statement, never assembled at call time); ``{task_type}``, ``{now}``, ``{count}``
# and ``{worker_id}`` are parameter references, ``{guard}`` a further condition on the queue rows.
# Takes the first tasks in claim order whose queue row and task row nobody else
# holds, removes them from the queue and rewrites them as ``plans.claimed`` does (a
# test holds the two to the same result). Locking both rows means a queue row
# that vanished, or a task no longer SCHEDULED, since the statement's snapshot
# is dropped, not handed out; the locked row is the latest version, so its body
# is. The body is not rebuilt: the claimed fields are appended to it as text,
# after the ones it has. A JSON object with a key twice means its last value, to
# msgspec as to PostgreSQL's json functions, so the body decodes as the claimed
# task; the next decision on the task writes it whole again, so a body carries
# at most one such tail. PostgreSQL's JSON functions would cost twice as much:
# `bench/claim_json.py` on a 1.7 kB body, net of reading it, 8.6 us appended as
# text, 16.2 us by `jsonb ||`, 18.2 us by json_each/json_object_agg. ``pollCount``
# and ``responseTimeoutSeconds`` come from the queue row (migration 0008), so
# the body is not parsed; a row queued before that reads them from the body, and
# a batch whose bodies PostgreSQL's JSON refuses (an escape it cannot read)
# fails as a data error and is claimed by PICK_FOR_CLAIM and REWRITE_CLAIMED
# instead, which rewrite the bodies in Python.
_CLAIM_CTES = """
candidates AS (
    -- The queue alone: whatever plan orders the candidates (a sort, while the statistics say the
    -- queue is small), it touches no task row and no body, only the first ``count`` get further.
    SELECT q.id, q.priority, q.visible_at, q.task_id, q.response_timeout_seconds, q.poll_count
    FROM queue q
    WHERE q.task_type = {task_type} AND q.visible_at <= {now}{guard}
    ORDER BY q.priority DESC, q.visible_at, q.id
    LIMIT {count}
    FOR UPDATE OF q SKIP LOCKED
), picked AS (
    SELECT c.id, c.priority, c.visible_at, c.response_timeout_seconds AS queued_response_timeout_seconds,
           c.poll_count AS queued_poll_count, t.task_id, t.body
    FROM candidates c JOIN tasks t ON t.task_id = c.task_id
    WHERE t.status = 'SCHEDULED'
    FOR NO KEY UPDATE OF t SKIP LOCKED
), fields AS (
    -- From the queue row; from the body only for a row queued before migration 0008.
    SELECT p.*,
           coalesce(p.queued_response_timeout_seconds, (p.body::json ->> 'responseTimeoutSeconds')::bigint, 0)
               AS response_timeout_seconds,
           coalesce(p.queued_poll_count, (p.body::json ->> 'pollCount')::bigint, 0) AS poll_count
    FROM picked p
), leased AS (
    SELECT f.*,
           CASE WHEN f.response_timeout_seconds > 0
                THEN {now} + f.response_timeout_seconds * 1000 ELSE 0 END AS lease_expires_at
    FROM fields f
), handed_out AS (
    DELETE FROM queue WHERE id IN (SELECT id FROM picked)
), claimed AS (
    UPDATE tasks t
    SET status = 'IN_PROGRESS',
        row_version = t.row_version + 1,
        -- The lease, or a timeout the task's timer already held if earlier (a poll timeout it held
        -- no longer applies: the decider re-arms a timer that fires for it).
        timer_at = least(nullif(l.lease_expires_at, 0), t.timer_at),
        -- startTime is the first poll's: a later poll (after a callback) keeps the body's.
        body = left(l.body, -1)
               || ',"status":"IN_PROGRESS","workerId":' || coalesce(to_json({worker_id})::text, 'null')
               || ',"pollCount":' || (l.poll_count + 1)
               || CASE WHEN l.poll_count = 0 THEN ',"startTime":' || {now} ELSE '' END
               || ',"updateTime":' || {now}
               || ',"leaseExpiresAt":' || l.lease_expires_at || '}}'
    FROM leased l
    WHERE t.task_id = l.task_id
    RETURNING t.body, t.row_version, l.priority, l.visible_at, l.id
)"""
CLAIM_ORDER = "ORDER BY priority DESC, visible_at, id"
# One statement, so one round trip and its own transaction.
CLAIM_TASKS = (
    "WITH"
    + _CLAIM_CTES.format(task_type="$1", now="$2::bigint", count="$3", worker_id="$4::text", guard="")
    + f"\nSELECT body, row_version FROM claimed {CLAIM_ORDER}"
)
# What a decision reads of a run: its header, snapshot and version, and its
# tasks' bodies and versions in seq order (a ``KnownRun``).
_RUN_FOR_DECISION = """r.body, r.snapshot_hash, r.row_version,
       ARRAY(SELECT t.body FROM tasks t WHERE t.workflow_id = r.workflow_id ORDER BY t.seq),
       ARRAY(SELECT t.row_version FROM tasks t WHERE t.workflow_id = r.workflow_id ORDER BY t.seq)"""
# Reads a run with its tasks for a decision, without a lock: one statement, so
# the header and the tasks come from one snapshot. WRITE_DECISION then writes
# only if the run's ``row_version`` is still the one read here. Under the run's
# lock it reads the run as the last decision left it.
READ_RUN_FOR_DECISION = f"""
SELECT {_RUN_FOR_DECISION}
FROM runs r WHERE r.workflow_id = $1"""
# Locks the run and reads it with its tasks in one statement: the way in when
# decisions on the run contend. The tasks come from the statement's snapshot,
# taken before the lock was granted: if another decision committed in between,
# the locked row's version is newer than the snapshot's, ``fresh`` is false, and
# READ_RUN_FOR_DECISION reads them again. The ``row_version`` returned is the
# locked row's.
LOCK_RUN_FOR_DECISION = f"""
SELECT {_RUN_FOR_DECISION},
       r.row_version = (SELECT s.row_version FROM runs s WHERE s.workflow_id = r.workflow_id) AS fresh
FROM runs r WHERE r.workflow_id = $1
FOR NO KEY UPDATE OF r"""
# All of a decision's rows, and the worker's next claim, in one statement, so
# one round trip and (outside a transaction) one commit. Nothing is written
# unless the run still has the ``row_version`` the decision read ($27) and
# every task it updates still has the status it was loaded with: the run row is
# locked first, then those task rows (the lock path's order, so the two cannot
# deadlock), and everything after is gated on the run's update. Returns whether
# it wrote, the claimed bodies and their row versions, and, when it did not
# write, the run as READ_RUN_FOR_DECISION reads it (from the statement's
# snapshot), so a decision made from a stale copy is made again without
# another round trip. ($32 is the run's timer; $33-$34 the queued tasks' claim fields.) The claim ($28-$31; a
# count of 0 claims
# nothing) leaves out the tasks this decision updates, which would otherwise be
# changed twice by one statement, and cannot see the tasks it queues (one
# snapshot): a decision that queues a task the claim could take claims with
# CLAIM_TASKS after it, in one transaction.
WRITE_DECISION = (
    """
WITH locked_run AS (
    SELECT 1 FROM runs WHERE workflow_id = $7 AND row_version = $27 FOR NO KEY UPDATE
), locked_tasks AS (
    SELECT t.task_id
    FROM tasks t JOIN unnest($19::text[], $21::text[]) AS u (task_id, expected_status) ON t.task_id = u.task_id
    WHERE t.workflow_id = $7 AND t.status = u.expected_status AND EXISTS (SELECT 1 FROM locked_run)
    FOR NO KEY UPDATE OF t
), run AS (
    UPDATE runs SET status = $1, correlation_id = $2, priority = $3,
                    update_time = $4, end_time = $5, body = $6,
                    row_version = row_version + 1, timer_at = $32
    WHERE workflow_id = $7 AND row_version = $27
      AND (SELECT count(*) FROM locked_tasks) = cardinality($19::text[])
    RETURNING 1
), inserted AS (
    INSERT INTO tasks (task_id, workflow_id, seq, ref, task_type, status, timer_at, body)
    SELECT * FROM unnest($8::text[], $9::text[], $10::int[],
                         $11::text[], $12::text[], $13::text[],
                         $14::bigint[], $15::text[])
    WHERE EXISTS (SELECT 1 FROM run)
), updated AS (
    UPDATE tasks t SET status = u.status, timer_at = u.timer_at, body = u.body, row_version = t.row_version + 1
    FROM unnest($16::text[], $17::bigint[], $18::text[], $19::text[], $20::text[])
         AS u (status, timer_at, body, task_id, workflow_id)
    WHERE t.task_id = u.task_id AND t.workflow_id = u.workflow_id AND EXISTS (SELECT 1 FROM run)
), dequeued AS (
    DELETE FROM queue WHERE task_id = ANY($22::text[]) AND EXISTS (SELECT 1 FROM run)
), enqueued AS (
    INSERT INTO queue (task_id, task_type, priority, visible_at, response_timeout_seconds, poll_count)
    SELECT * FROM unnest($23::text[], $24::text[], $25::int[], $26::bigint[], $33::bigint[], $34::bigint[])
    WHERE EXISTS (SELECT 1 FROM run)
    ON CONFLICT (task_id) DO UPDATE SET
        task_type = excluded.task_type, priority = excluded.priority, visible_at = excluded.visible_at,
        response_timeout_seconds = excluded.response_timeout_seconds, poll_count = excluded.poll_count
),"""
    + _CLAIM_CTES.format(
        task_type="$28",
        now="$29::bigint",
        count="$30",
        worker_id="$31::text",
        guard="\n      AND q.task_id <> ALL($19::text[]) AND EXISTS (SELECT 1 FROM run)",
    )
    + f"""
SELECT w.written,
       ARRAY(SELECT body FROM claimed {CLAIM_ORDER}),
       ARRAY(SELECT row_version FROM claimed {CLAIM_ORDER}),
       fresh.*
FROM (SELECT EXISTS (SELECT 1 FROM run) AS written) w
LEFT JOIN LATERAL (SELECT {_RUN_FOR_DECISION} FROM runs r WHERE r.workflow_id = $7 AND NOT w.written) fresh ON true"""
)
PICK_FOR_CLAIM = """
WITH picked AS (
    SELECT q.id, q.priority, q.visible_at, t.body, t.row_version
    FROM queue q JOIN tasks t ON t.task_id = q.task_id
    WHERE q.task_type = $1 AND q.visible_at <= $2 AND t.status = 'SCHEDULED'
    ORDER BY q.priority DESC, q.visible_at, q.id
    LIMIT $3
    FOR UPDATE OF q SKIP LOCKED
    FOR NO KEY UPDATE OF t SKIP LOCKED
), dequeued AS (
    DELETE FROM queue WHERE id IN (SELECT id FROM picked)
)
SELECT body, row_version FROM picked ORDER BY priority DESC, visible_at, id"""
REWRITE_CLAIMED = """
UPDATE tasks t SET status = 'IN_PROGRESS', timer_at = c.timer_at, body = c.body, row_version = t.row_version + 1
FROM unnest($1::bigint[], $2::text[], $3::text[]) AS c (timer_at, body, task_id)
WHERE t.task_id = c.task_id AND t.status = 'SCHEDULED'"""
CLAIM_REWRITTEN_FIELDS = ("status", "workerId", "pollCount", "startTime", "updateTime", "leaseExpiresAt")
"""The body fields CLAIM_TASKS sets, by their JSON names (``responseTimeoutSeconds`` it reads)."""
INSERT_SIGNAL = "INSERT INTO outbox (signal_id, created_at, body) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING"
INSERT_DECISION_LOGS = """
INSERT INTO task_logs (task_id, created_time, log)
SELECT l.task_id, l.created_time, l.log
FROM unnest($1::text[], $2::bigint[], $3::text[]) WITH ORDINALITY AS l (task_id, created_time, log, n)
ORDER BY l.n"""
COUNT_QUEUED = "SELECT task_type, count(*) FROM queue GROUP BY task_type"
COUNT_QUEUED_OF = """
SELECT task_type, count(*) FROM queue WHERE task_type = ANY($1::text[]) GROUP BY task_type"""
# Each side stops at the limit on its own index, so a backlog of due timers is not read whole.
SELECT_DUE_TIMERS = """
(SELECT workflow_id, task_id, timer_at FROM tasks
 WHERE timer_at IS NOT NULL AND timer_at <= $1 ORDER BY timer_at, task_id LIMIT $2)
UNION ALL
(SELECT workflow_id, NULL, timer_at FROM runs WHERE timer_at IS NOT NULL AND timer_at <= $1 ORDER BY timer_at LIMIT $2)
ORDER BY 3, 2
LIMIT $2"""
# A limited claim (see ClaimLimits): lock the type, prune and count the ledger, claim, record the claims.
# The lock is taken in a statement of its own, so the count, a new statement, sees every claim committed
# by the limited claim that held the lock before.
LOCK_CLAIM_LIMIT = "SELECT pg_advisory_xact_lock(hashtextextended('baton.claim_limit:' || $1, 0))"
COUNT_CLAIM_LEDGER = """
WITH pruned AS (
    DELETE FROM task_claims c
    WHERE c.task_type = $1 AND c.claimed_at <= $2
      AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.task_id = c.task_id AND t.status = 'IN_PROGRESS')
)
SELECT (SELECT count(DISTINCT c.task_id) FROM task_claims c JOIN tasks t ON t.task_id = c.task_id
        WHERE c.task_type = $1 AND t.status = 'IN_PROGRESS'),
       (SELECT count(*) FROM task_claims WHERE task_type = $1 AND claimed_at > $2)"""
INSERT_CLAIM_LEDGER = """
INSERT INTO task_claims (task_type, task_id, claimed_at)
SELECT $1, task_id, $2 FROM unnest($3::text[]) AS c (task_id)"""

# The parameters of the statements with named ones, in ``$n`` order.
CREATE_RUN_ARGS = (
    "snapshot_hash", "snapshot_body", "workflow_id", "name", "version", "status", "correlation_id", "priority",
    "create_time", "update_time", "end_time", "body",
    "new_task_id", "new_workflow_id", "new_seq", "new_ref", "new_task_type", "new_status", "new_timer_at", "new_body",
    "queue_task_id", "queue_task_type", "queue_priority", "queue_visible_at",
    "timer_at", "queue_response_timeout_seconds", "queue_poll_count",
)  # fmt: skip
WRITE_DECISION_ARGS = (
    "status", "correlation_id", "priority", "update_time", "end_time", "body", "workflow_id",
    "new_task_id", "new_workflow_id", "new_seq", "new_ref", "new_task_type", "new_status", "new_timer_at", "new_body",
    "upd_status", "upd_timer_at", "upd_body", "upd_task_id", "upd_workflow_id", "upd_expected_status",
    "dequeue_task_id",
    "queue_task_id", "queue_task_type", "queue_priority", "queue_visible_at",
    "row_version", "claim_task_type", "claim_now", "claim_count", "claim_worker_id",
    "timer_at", "queue_response_timeout_seconds", "queue_poll_count",
)  # fmt: skip
SELECT_CORRELATED_RUNS_ARGS = ("include_tasks", "name", "correlation_id", "include_closed")
