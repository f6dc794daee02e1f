"""The shared store: PostgreSQL through asyncpg and its connection pools.

Any number of Baton processes may share one database. How they stay out of
each other's way:

* ``transact`` (and ``transact_then_claim``) first decides optimistically,
  with no BEGIN/COMMIT. When this process wrote the run's last decision (or
  started it), it has the run as written (``run_cache.KnownRun``) and decides
  on that copy without reading anything; otherwise it reads the run with its
  tasks and the run's ``row_version`` (no lock). Everything the decision
  writes, with the worker's next claim, goes as one statement, which commits
  on its own. That statement locks the run row, then the task rows it updates,
  and writes only if the run still has the version decided on and each of
  those tasks the status it had; otherwise it writes nothing and returns the
  run as it is, and the decision is made once more on that. A refusal made on
  the copy is made again on a read: it writes nothing, so no guard checks it.
  When that fails too, the decision is made the locked way: the run's row is
  locked (``FOR NO KEY UPDATE``) and read with its tasks in one statement, and
  again in a new one (which sees the decision that held the lock before) when
  the run's version shows that a decision committed while it waited. Both ways
  lock the run row before task rows, so they cannot deadlock each other.
  Decisions on one run are serialised either way: every decision bumps
  ``row_version``; within one process they also take turns
  (``run_cache.RunTurns``), so a fan-out's results do not refuse each other's
  writes. A worker's step is thus one statement when this process made the
  run's last decision, two when another did.
* ``claim_tasks`` is one statement: it locks the queue rows and task rows it
  takes with ``SKIP LOCKED`` and never waits on a lock, so claims cannot
  deadlock with each other or with decisions, and two claims never take one
  task; it picks from the queue alone before it reads any task row, and
  appends the claimed fields to the bodies as text (see CLAIM_TASKS).
* A claim (SCHEDULED -> IN_PROGRESS) is the only change made to a task outside
  its run's lock. A decision therefore updates each task only if it still has
  the status the decision loaded; if a claim got there first, the decision
  writes nothing (or is rolled back) and is made again on the fresh state.
* A stand-alone ``claim_tasks`` commits with ``synchronous_commit = off``
  (its own small pool, whose connections are opened with that setting): it
  does not wait for the WAL flush. A claim lost in a PostgreSQL crash only
  leaves its task SCHEDULED and queued again, and a worker's result is
  accepted for a SCHEDULED task too, so nothing acknowledged is lost: the task
  may be handed out twice, which at-least-once delivery (as in Conductor)
  allows. Decisions, starts and ``transact_then_claim`` (whose claim commits
  with a decision) stay synchronous. A dedicated pool beats ``SET LOCAL``,
  which would need an explicit transaction: BEGIN, SET and COMMIT are three
  more round trips around a one-statement claim.
* ``create_run`` takes the idempotency key row first (``INSERT ... ON CONFLICT
  DO NOTHING``, which waits for a concurrent holder to commit or roll back),
  then decides by strategy under that row's lock.

Cost: each statement costs the client more CPU than the server spends on it,
and BEGIN and COMMIT are statements too, so the write paths batch: all of a
decision's rows and a worker's next claim go in one statement (the guards, the
run update, task inserts and updates, queue changes and the claim, as
data-modifying CTEs over ``unnest``ed arrays, which asyncpg sends in binary so
bodies need no escaping), and a claim is a single statement: a worker's step
is one or two statements instead of five (BEGIN, lock and read, write, claim,
COMMIT). Outside ``conn.transaction()``
asyncpg commits each statement by itself, so a read is one statement and one
round trip, as is a start without an idempotency key; every write of more than
one statement runs in an explicit ``conn.transaction()``. asyncpg prepares
each statement once per connection and caches it. A connection going back to
its pool is not reset (``_keep_session``): Baton sets no session state, and the
reset would cost a round trip per use; a transaction left open is still rolled
back by the pool.

Three pools: starts and decisions on one whose connections plan each statement
once, by its indexes (``_BY_KEY_SETTINGS``); stand-alone claims on one with the
same settings and asynchronous commits; everything else (reads, definitions,
searches) on the main one with PostgreSQL's defaults.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg

from baton.engine.decision import OFF_THE_LOOP, Decision, Signal
from baton.errors import ConflictError, NotFoundError, StoreError
from baton.model import IdempotencyStrategy, Task, TaskDef, TaskExecLog, Workflow, WorkflowDef, WorkflowStatus
from baton.store import pg_slices, search_sql, sql
from baton.store.base import (
    ClaimAfter,
    ClaimLimits,
    ClaimRequest,
    DecisionStep,
    DueTimer,
    RunPage,
    RunTaskPage,
    SearchRequest,
    StartResult,
    Store,
    TaskPage,
)
from baton.store.run_cache import CachedRun, KnownRun, RunCache, RunTurns

# -- queries -------------------------------------------------------------------------

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

INSERT_WORKFLOW_DEF_NEW = """
INSERT INTO workflow_defs (name, version, create_time, body) VALUES ($1, $2, $3, $4)
ON CONFLICT (name, version) DO NOTHING"""
UPSERT_WORKFLOW_DEF = """
INSERT INTO workflow_defs (name, version, create_time, body) VALUES ($1, $2, $3, $4)
ON CONFLICT (name, version) DO UPDATE SET create_time = excluded.create_time, body = excluded.body"""
SELECT_WORKFLOW_DEF = "SELECT body FROM workflow_defs WHERE name = $1 AND version = $2"
SELECT_LATEST_WORKFLOW_DEF = "SELECT body FROM workflow_defs WHERE name = $1 ORDER BY version DESC LIMIT 1"
SELECT_ALL_WORKFLOW_DEFS = "SELECT body FROM workflow_defs ORDER BY name, version"
SELECT_WORKFLOW_DEFS_OF = "SELECT body FROM workflow_defs WHERE name = $1 ORDER BY version"
DELETE_WORKFLOW_DEF = "DELETE FROM workflow_defs WHERE name = $1 AND version = $2"

INSERT_TASK_DEF_NEW = "INSERT INTO task_defs (name, body) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"
UPSERT_TASK_DEF = """
INSERT INTO task_defs (name, body) VALUES ($1, $2)
ON CONFLICT (name) DO UPDATE SET body = excluded.body"""
SELECT_TASK_DEFS = "SELECT body FROM task_defs WHERE name = ANY($1::text[])"
SELECT_ALL_TASK_DEFS = "SELECT body FROM task_defs ORDER BY name"
DELETE_TASK_DEF = "DELETE FROM task_defs WHERE name = $1"

SELECT_SNAPSHOT = "SELECT body FROM definition_snapshots WHERE hash = $1"
SELECT_RUN_SNAPSHOT = """
SELECT s.body FROM runs r JOIN definition_snapshots s ON s.hash = r.snapshot_hash WHERE r.workflow_id = $1"""

TAKE_IDEMPOTENCY_KEY = """
INSERT INTO idempotency_keys (key, workflow_id) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"""
LOCK_KEY_HOLDER = "SELECT workflow_id FROM idempotency_keys WHERE key = $1 FOR UPDATE"
MOVE_IDEMPOTENCY_KEY = "UPDATE idempotency_keys SET workflow_id = $1 WHERE key = $2"
SELECT_RUN_STATUS = "SELECT status FROM runs WHERE workflow_id = $1"

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

# The claim, as CTEs that CLAIM_TASKS and WRITE_DECISION share; ``{task_type}``, ``{now}``, ``{count}``
# and ``{worker_id}`` are parameter references, ``{guard}`` a further condition on the queue rows.
# Takes the first tasks in claim order whose queue row and task row nobody else
# holds, removes them from the queue and rewrites them as ``sql.claimed`` does (a
# test holds the two to the same result). Locking both rows means a queue row
# that vanished, or a task no longer SCHEDULED, since the statement's snapshot
# is dropped, not handed out; the locked row is the latest version, so its body
# is. The body is not rebuilt: the claimed fields are appended to it as text,
# after the ones it has. A JSON object with a key twice means its last value, to
# msgspec as to PostgreSQL's json functions, so the body decodes as the claimed
# task; the next decision on the task writes it whole again, so a body carries
# at most one such tail. (Rebuilding it with json_each/json_object_agg cost
# PostgreSQL several times more CPU than the rest of the claim.) ``pollCount``
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
SELECT_SIGNALS_BEFORE = "SELECT body FROM outbox WHERE created_at < $1 ORDER BY created_at LIMIT $2"
DELETE_SIGNAL = "DELETE FROM outbox WHERE signal_id = $1"
# The lines in the order given; no row inserted when there is no such task.
INSERT_TASK_LOGS = """
INSERT INTO task_logs (task_id, created_time, log)
SELECT t.task_id, l.created_time, l.log
FROM tasks t, unnest($2::bigint[], $3::text[]) WITH ORDINALITY AS l (created_time, log, n)
WHERE t.task_id = $1
ORDER BY l.n"""
INSERT_DECISION_LOGS = """
INSERT INTO task_logs (task_id, created_time, log)
SELECT l.task_id, l.created_time, l.log
FROM unnest($1::text[], $2::bigint[], $3::text[]) WITH ORDINALITY AS l (task_id, created_time, log, n)
ORDER BY l.n"""
SELECT_TASK_EXISTS = "SELECT 1 FROM tasks WHERE task_id = $1"
SELECT_TASK_LOGS = """
SELECT l.log, l.created_time FROM tasks t LEFT JOIN task_logs l ON l.task_id = t.task_id
WHERE t.task_id = $1 ORDER BY l.id"""
"""No row: no such task; one row of NULLs: a task without log lines."""
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

_MAX_ATTEMPTS = 10

_BY_KEY_SETTINGS = {
    "plan_cache_mode": "force_generic_plan",
    "enable_seqscan": "off",
    "enable_hashjoin": "off",
    "enable_mergejoin": "off",
}
"""The decision and claim pools' connections plan each statement once, by its indexes.

By default PostgreSQL plans a prepared statement's first five executions for
their parameters, then keeps a generic plan if its estimated cost is no higher
than theirs, until the next ANALYZE of a table it reads. Both halves hurt the
hot path. For WRITE_DECISION the comparison falls either way on a connection's
first decisions, and a connection on which it fell for custom plans plans the
statement again at every decision, for more than the rest of the statement
costs (1-2 connections in 10 in runs of W1). And a plan made while the tables
are small (a fresh database: each new connection's first statements) may scan
a table whole and join by hashing, which stays cheap only while the table does.
Every statement on these pools finds its rows by key (a run, its tasks, a
queue's head, a snapshot), so their connections plan each statement once, with the
parameters unknown, and without sequential scans, hash or merge joins unless
nothing else can run it: index lookups in nested loops, whatever the tables'
sizes when it was planned. Searches, whose best plans do depend on their
parameters and on the tables, stay on the main pool with the defaults.
"""


_Claimed = tuple[Task, int]
"""A claimed task and its row's version after the claim."""


def _decode_claimed(rows: Iterable[Sequence[Any]]) -> list[_Claimed]:
    """``(body, row_version)`` rows of a claim, decoded."""
    return [(sql.decode_task(body), version) for body, version in rows]


def _claim_nothing(decision: Decision) -> ClaimRequest | None:
    return None


def _claim_request(request: ClaimRequest | None) -> ClaimRequest | None:
    """None for a request that asks for nothing."""
    return request if request is not None and request.count > 0 else None


def _claim_args(request: ClaimRequest) -> tuple[str, int, int, str | None]:
    """CLAIM_TASKS's parameters."""
    return request.task_type, request.now, request.count, request.worker_id


def _has_more_statements(plan: sql.WritePlan) -> bool:
    """Whether the decision writes more than WRITE_DECISION does (removed tasks, a new definition, log lines,
    signals to other runs, the later slices of a large plan).

    Those statements follow WRITE_DECISION in one transaction, and a claim then
    comes after them (WRITE_DECISION's own could take a task being removed).
    """
    return bool(
        plan.task_deletes
        or plan.snapshot is not None
        or plan.log_inserts
        or plan.outbox_inserts
        or pg_slices.is_sliced(plan)
    )


def _claims_inline(plan: sql.WritePlan, request: ClaimRequest | None) -> bool:
    """Whether WRITE_DECISION can carry the decision's claim (or there is none): no other statement follows it,
    the decision queues nothing the claim could take, and the claim has no limits (those take a lock and a
    ledger)."""
    if _has_more_statements(plan):
        return False
    return request is None or (request.limits is None and not _queues_claimable(plan, request))


def _queues_claimable(plan: sql.WritePlan, request: ClaimRequest) -> bool:
    """Whether the decision queues a task the claim could take: WRITE_DECISION's claim cannot see it."""
    return any(
        task_type == request.task_type and visible_at <= request.now
        for _, task_type, _, visible_at in plan.queue_upserts
    )


class _TaskClaimed(Exception):
    """A claim took a task this decision updates; roll back and decide again."""


class _KeyMoved(Exception):
    """The idempotency key's holder vanished between two statements; start over."""


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Driver errors leave the store as StoreError; Baton's own errors pass unchanged."""
    try:
        yield
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise StoreError(f"PostgreSQL failed to {action}: {exc}") from exc


def _args(names: tuple[str, ...], params: dict[str, Any]) -> list[Any]:
    """The values of ``params`` in the ``$n`` order of a statement's ``names``."""
    return [params[name] for name in names]


def _rowcount(status: str) -> int:
    """The row count of a command status such as ``INSERT 0 1`` or ``DELETE 3``."""
    count = status.rpartition(" ")[2]
    return int(count) if count.isdigit() else 0


def split_connect_timeout(url: str) -> tuple[str, float | None]:
    """``url`` without libpq's ``connect_timeout``, and its value in seconds (None if absent or not positive).

    asyncpg would send an unknown URL parameter to the server as a setting, which PostgreSQL refuses.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    timeouts = [value for name, value in query if name == "connect_timeout"]
    if not timeouts:
        return url, None
    rest = urlencode([(name, value) for name, value in query if name != "connect_timeout"])
    try:
        seconds = float(timeouts[-1])
    except ValueError:
        raise StoreError(f"Invalid connect_timeout {timeouts[-1]!r} in the database URL") from None
    return urlunsplit(parts._replace(query=rest)), seconds if seconds > 0 else None


PoolAcquireContext = AbstractAsyncContextManager[asyncpg.Connection]


def _acquire(pool: asyncpg.Pool | None) -> PoolAcquireContext:
    """A connection of ``pool`` for an ``async with`` (asyncpg's own context, not wrapped: it is on every path)."""
    if pool is None:
        raise StoreError("The store is not open")
    acquired: PoolAcquireContext = pool.acquire()
    return acquired


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A released connection is not reset: Baton changes no session state, and the reset is a round trip.

    The pool still rolls back a transaction left open before it calls this.
    """


class PostgresStore(Store):
    """The store on a PostgreSQL database, shared by any number of processes."""

    def __init__(
        self,
        url: str,
        *,
        min_size: int = 1,
        max_size: int = 10,
        open_timeout: float = 30.0,
        snapshot_cache_size: int = 512,
        run_cache_size: int = 4096,
        run_cache_bytes: int = 64 << 20,
    ) -> None:
        """``url``: a postgresql:// URL (asyncpg takes no key=value DSN); ``min_size``/``max_size``: the decision
        pool's bounds (the main and claim pools hold at most half as many, at least 2 and 1); ``open_timeout``:
        seconds ``open`` waits for the first connections; ``run_cache_size``: how many runs this process keeps a
        copy of to decide on without reading them (``KnownRun``); ``run_cache_bytes``: what those copies, and the
        decoded task bodies (``sql.BodyCache``), may hold each, by their encoded bodies' length."""
        self._url, self._connect_timeout = split_connect_timeout(url)
        self._min_size = min_size
        self._max_size = max_size
        self._open_timeout = open_timeout
        self._pool: asyncpg.Pool | None = None
        self._decision_pool: asyncpg.Pool | None = None
        self._claim_pool: asyncpg.Pool | None = None
        self._task_bodies = sql.BodyCache(run_cache_bytes)
        self._known: RunCache[KnownRun] = RunCache(run_cache_bytes, max_runs=run_cache_size)
        self._turns = RunTurns()
        self._snapshots = sql.SnapshotCache(snapshot_cache_size)

    # -- plumbing ------------------------------------------------------------------

    def _new_pool(self, *, min_size: int, max_size: int, server_settings: dict[str, str] | None = None) -> asyncpg.Pool:
        return asyncpg.create_pool(
            self._url,
            min_size=min(min_size, max_size),
            max_size=max_size,
            server_settings=server_settings,
            reset=_keep_session,
            timeout=min(self._open_timeout, self._connect_timeout or self._open_timeout),
        )

    async def open(self) -> None:
        if self._pool is not None:
            return
        started: list[asyncpg.Pool] = []

        async def start(pool: asyncpg.Pool) -> asyncpg.Pool:
            started.append(pool)
            async with asyncio.timeout(self._open_timeout):
                await pool
            return pool

        with _translated("connect"):
            try:
                self._pool = await start(self._new_pool(min_size=self._min_size, max_size=max(2, self._max_size // 2)))
                await self._migrate()
                # Starts and decisions: a handful of statements, each planned once per connection (see
                # _BY_KEY_SETTINGS).
                self._decision_pool = await start(
                    self._new_pool(min_size=self._min_size, max_size=self._max_size, server_settings=_BY_KEY_SETTINGS)
                )
                # Stand-alone claims only: their commits need not wait for the WAL flush (see the module's docstring).
                self._claim_pool = await start(
                    self._new_pool(
                        min_size=1,
                        max_size=max(1, self._max_size // 2),
                        server_settings={**_BY_KEY_SETTINGS, "synchronous_commit": "off"},
                    )
                )
            except BaseException:
                self._pool = self._decision_pool = self._claim_pool = None
                # A pool whose start failed has closed itself already; terminate() then does nothing.
                for pool in reversed(started):
                    pool.terminate()
                raise

    async def close(self) -> None:
        pools = [self._claim_pool, self._decision_pool, self._pool]
        self._pool = self._decision_pool = self._claim_pool = None
        for pool in pools:
            if pool is not None:
                await pool.close()

    async def _migrate(self) -> None:
        async with self._connection() as conn, conn.transaction():
            await conn.execute(MIGRATION_LOCK)
            await conn.execute(CREATE_MIGRATIONS_TABLE)
            applied = {version for (version,) in await conn.fetch(SELECT_APPLIED_MIGRATIONS)}
            for migration in sql.load_migrations("postgres"):
                if migration.version in applied:
                    continue
                # No arguments: asyncpg sends the file as one simple query, all its statements at once.
                await conn.execute(migration.sql)
                await conn.execute(INSERT_APPLIED_MIGRATION, migration.version, migration.name)

    def _connection(self) -> PoolAcquireContext:
        return _acquire(self._pool)

    def _claim_connection(self) -> PoolAcquireContext:
        """For stand-alone claims only: their commits do not wait for the WAL flush."""
        return _acquire(self._claim_pool)

    def _decision_connection(self) -> PoolAcquireContext:
        """For ``create_run`` and decisions only (see _BY_KEY_SETTINGS)."""
        return _acquire(self._decision_pool)

    async def _fetchone(self, action: str, query: str, *args: Any) -> asyncpg.Record | None:
        with _translated(action):
            async with self._connection() as conn:
                row: asyncpg.Record | None = await conn.fetchrow(query, *args)
                return row

    async def _fetchall(self, action: str, query: str, *args: Any) -> list[asyncpg.Record]:
        with _translated(action):
            async with self._connection() as conn:
                rows: list[asyncpg.Record] = await conn.fetch(query, *args)
                return rows

    async def _rowcount(self, action: str, query: str, *args: Any) -> int:
        with _translated(action):
            async with self._connection() as conn:
                return _rowcount(await conn.execute(query, *args))

    # -- definitions ---------------------------------------------------------------

    async def put_workflow_defs(self, defs: list[WorkflowDef], *, overwrite: bool) -> None:
        rows = [sql.workflow_def_row(d) for d in defs]
        with _translated("store workflow definitions"):
            async with self._connection() as conn, conn.transaction():
                if overwrite:
                    await conn.executemany(UPSERT_WORKFLOW_DEF, rows)
                    return
                for definition, row in zip(defs, rows, strict=True):
                    if _rowcount(await conn.execute(INSERT_WORKFLOW_DEF_NEW, *row)) == 0:
                        raise ConflictError(
                            f"Workflow definition {definition.name} version {definition.version} already exists"
                        )

    async def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef | None:
        if version is None:
            row = await self._fetchone("read a workflow definition", SELECT_LATEST_WORKFLOW_DEF, name)
        else:
            row = await self._fetchone("read a workflow definition", SELECT_WORKFLOW_DEF, name, version)
        return None if row is None else sql.decode_workflow_def(row[0])

    async def list_workflow_defs(self, name: str | None = None) -> list[WorkflowDef]:
        if name is None:
            rows = await self._fetchall("list workflow definitions", SELECT_ALL_WORKFLOW_DEFS)
        else:
            rows = await self._fetchall("list workflow definitions", SELECT_WORKFLOW_DEFS_OF, name)
        return [sql.decode_workflow_def(body) for (body,) in rows]

    async def delete_workflow_def(self, name: str, version: int) -> bool:
        return await self._rowcount("delete a workflow definition", DELETE_WORKFLOW_DEF, name, version) > 0

    async def put_task_defs(self, defs: list[TaskDef], *, overwrite: bool = True) -> None:
        rows = [sql.task_def_row(d) for d in defs]
        with _translated("store task definitions"):
            async with self._connection() as conn, conn.transaction():
                if overwrite:
                    await conn.executemany(UPSERT_TASK_DEF, rows)
                    return
                for definition, row in zip(defs, rows, strict=True):
                    if _rowcount(await conn.execute(INSERT_TASK_DEF_NEW, *row)) == 0:
                        raise ConflictError(f"Task definition {definition.name} already exists")

    async def get_task_defs(self, names: Collection[str]) -> dict[str, TaskDef]:
        if not names:
            return {}
        rows = await self._fetchall("read task definitions", SELECT_TASK_DEFS, list(names))
        found = [sql.decode_task_def(body) for (body,) in rows]
        return {d.name: d for d in found}

    async def list_task_defs(self) -> list[TaskDef]:
        rows = await self._fetchall("list task definitions", SELECT_ALL_TASK_DEFS)
        return [sql.decode_task_def(body) for (body,) in rows]

    async def delete_task_def(self, name: str) -> bool:
        return await self._rowcount("delete a task definition", DELETE_TASK_DEF, name) > 0

    # -- runs ----------------------------------------------------------------------

    async def create_run(
        self,
        decision: Decision,
        definition: WorkflowDef,
        *,
        idempotency_strategy: IdempotencyStrategy | None = None,
    ) -> StartResult:
        run = decision.workflow
        digest, snapshot_body = self._snapshots.snapshot_of(definition)
        plan = await sql.plan_new_run_in_turns(decision) if sql.is_large(decision) else sql.plan_new_run(decision)
        head, tails = pg_slices.split(plan)
        params = _new_run_params(run, head, digest, definition)
        if not self._snapshots.is_stored(digest):
            params["snapshot_body"] = snapshot_body
        args = _args(CREATE_RUN_ARGS, params)
        key = run.idempotency_key
        with _translated("create a run"):
            async with self._decision_connection() as conn:
                for _ in range(_MAX_ATTEMPTS):
                    try:
                        if key or plan.outbox_inserts or tails:
                            async with conn.transaction():
                                if key:
                                    holder = await self._take_key(conn, key, run.workflow_id, idempotency_strategy)
                                    if holder is not None:
                                        return StartResult(workflow_id=holder, created=False)
                                await conn.execute(CREATE_RUN, *args)
                                await pg_slices.write_tails(conn, tails)
                                if plan.outbox_inserts:
                                    await conn.executemany(INSERT_SIGNAL, plan.outbox_inserts)
                        else:
                            await conn.execute(CREATE_RUN, *args)
                    except _KeyMoved:
                        continue
                    except asyncpg.UniqueViolationError as exc:
                        if exc.constraint_name == RUNS_PRIMARY_KEY:
                            raise ConflictError(f"Workflow {run.workflow_id} already exists") from exc
                        raise
                    self._snapshots.mark_stored(digest)
                    self._remember_new_run(decision, digest, plan)
                    return StartResult(workflow_id=run.workflow_id, created=True)
        raise StoreError(f"Could not settle idempotency key {key!r}")

    def _remember_new_run(self, decision: Decision, digest: str, plan: sql.WritePlan) -> None:
        """Its first decision then needs no read: the run's row and its tasks' are at version 0."""
        tasks = CachedRun.of([], [])
        tasks.apply(decision, sql.written_sizes(plan))
        run = decision.workflow
        self._known.put(run.workflow_id, KnownRun(row_version=0, digest=digest, header=run, tasks=tasks))

    @staticmethod
    async def _take_key(
        conn: asyncpg.Connection,
        key: str,
        workflow_id: str,
        strategy: IdempotencyStrategy | None,
    ) -> str | None:
        """Give the key to ``workflow_id``, or the id of the run to return instead; ConflictError per strategy."""
        if _rowcount(await conn.execute(TAKE_IDEMPOTENCY_KEY, key, workflow_id)) == 1:
            return None
        # Held by a committed run: lock the key row (waiting out a concurrent takeover),
        # then read its holder's status in a new statement, which sees that takeover's run.
        holder_row = await conn.fetchrow(LOCK_KEY_HOLDER, key)
        if holder_row is None:
            raise _KeyMoved
        holder: str = holder_row[0]
        status_row = await conn.fetchrow(SELECT_RUN_STATUS, holder)
        if status_row is None:
            raise _KeyMoved
        outcome = sql.resolve_key_conflict(strategy, WorkflowStatus(status_row[0]))
        if outcome is sql.KeyOutcome.RETURN_EXISTING:
            return holder
        if outcome is sql.KeyOutcome.REFUSE:
            raise ConflictError(sql.key_conflict_message(key, holder))
        await conn.execute(MOVE_IDEMPOTENCY_KEY, workflow_id, key)
        return None

    async def transact(self, workflow_id: str, step: DecisionStep) -> Decision:
        decision, _ = await self.transact_then_claim(workflow_id, step, _claim_nothing)
        return decision

    async def transact_then_claim(
        self, workflow_id: str, step: DecisionStep, claim_after: ClaimAfter
    ) -> tuple[Decision, list[Task]]:
        try:
            with _translated("record a decision"):
                # The turn before the connection: a decision waiting for its turn holds none.
                async with self._turns.turn(workflow_id), self._decision_connection() as conn:
                    return await self._decide(conn, workflow_id, step, claim_after)
        except NotFoundError:
            self._known.forget(workflow_id)
            raise
        except BaseException:
            self._known.clear()  # a copy may hold what was rolled back (this run's, or a claimed task's run's)
            raise

    async def _decide(
        self, conn: asyncpg.Connection, workflow_id: str, step: DecisionStep, claim_after: ClaimAfter
    ) -> tuple[Decision, list[Task]]:
        """From this process's copy of the run if it has one, else from a read; under the run's lock when the
        optimistic ways found the run changed under them."""
        known = self._known.get(workflow_id)
        try:
            if known is not None:
                outcome = await self._decide_unlocked(conn, workflow_id, step, claim_after, known)
                if isinstance(outcome, KnownRun):
                    known = outcome  # the copy was stale: the refused write read the run as it is
                elif outcome[0].refusal is None or outcome[0].refusal.kind == OFF_THE_LOOP:
                    return outcome
                else:
                    known = None  # a refusal must hold for the run as it is, not as this process last wrote it
            if known is None:
                known = await self._read_for_decision(conn, READ_RUN_FOR_DECISION, workflow_id)
            outcome = await self._decide_unlocked(conn, workflow_id, step, claim_after, known)
            if not isinstance(outcome, KnownRun):
                return outcome
        except asyncpg.DataError:
            # What PostgreSQL's JSON refuses (see _CLAIM_CTES): all again, claiming in Python.
            return await self._decide_locked(conn, workflow_id, step, claim_after, in_python=True)
        except pg_slices.SliceRefused:
            pass  # a claim came first: decide again under the run's lock
        return await self._decide_locked(conn, workflow_id, step, claim_after, in_python=False)

    async def _read_for_decision(self, conn: asyncpg.Connection, query: str, workflow_id: str) -> KnownRun:
        row = await conn.fetchrow(query, workflow_id)
        if row is None:
            raise NotFoundError(f"No such workflow: {workflow_id}")
        return self._known_from_row(workflow_id, row)

    def _known_from_row(self, workflow_id: str, row: asyncpg.Record | tuple[Any, ...]) -> KnownRun:
        """A run as ``_RUN_FOR_DECISION`` read it (task bodies decoded through the body cache)."""
        body, digest, row_version, task_bodies, task_versions = tuple(row)[:5]
        if body is None:
            raise NotFoundError(f"No such workflow: {workflow_id}")
        run, sizes = self._task_bodies.run(body, task_bodies)
        versions = [(task.task_id, version) for task, version in zip(run.tasks, task_versions, strict=True)]
        tasks = CachedRun.of(versions, run.tasks, sizes)
        return KnownRun(row_version=row_version, digest=digest, header=run, tasks=tasks)

    async def _decide_unlocked(
        self, conn: asyncpg.Connection, workflow_id: str, step: DecisionStep, claim_after: ClaimAfter, known: KnownRun
    ) -> tuple[Decision, list[Task]] | KnownRun:
        """The common case in one statement and no BEGIN/COMMIT: decide on ``known``, write if it is current.

        When another decision on the run, or a claim of one of the tasks the
        decision updates, came first, nothing was written: the run as that
        statement read it comes back, to decide again.
        """
        decision, loaded, definition = await self._step(conn, step, known)
        if decision.refusal is not None:
            return decision, []
        request = _claim_request(claim_after(decision))
        plan = await _plan(decision, workflow_id, loaded)
        if _claims_inline(plan, request):
            outcome = await self._write(conn, workflow_id, decision, definition, plan, known.row_version, request)
        else:
            async with conn.transaction():
                # When it writes nothing, neither do the statements after it: there is nothing to roll back.
                outcome = await self._write(conn, workflow_id, decision, definition, plan, known.row_version, None)
                if not isinstance(outcome, KnownRun) and request is not None:
                    outcome = await self._claim_after_writes(conn, request, in_python=False)
        if isinstance(outcome, KnownRun):
            return outcome
        return self._written(workflow_id, known, decision, plan, outcome)

    async def _decide_locked(
        self,
        conn: asyncpg.Connection,
        workflow_id: str,
        step: DecisionStep,
        claim_after: ClaimAfter,
        *,
        in_python: bool,
    ) -> tuple[Decision, list[Task]]:
        """One decision in a transaction that holds the run's row lock throughout."""
        for _ in range(_MAX_ATTEMPTS):
            try:
                async with conn.transaction():
                    row = await conn.fetchrow(LOCK_RUN_FOR_DECISION, workflow_id)
                    if row is None:
                        raise NotFoundError(f"No such workflow: {workflow_id}")
                    if row["fresh"]:
                        known = self._known_from_row(workflow_id, row)
                    else:
                        # A new statement, started with the lock held, sees the decision that held it before.
                        known = await self._read_for_decision(conn, READ_RUN_FOR_DECISION, workflow_id)
                    decision, loaded, definition = await self._step(conn, step, known)
                    if decision.refusal is not None:
                        return decision, []
                    request = _claim_request(claim_after(decision))
                    plan = await _plan(decision, workflow_id, loaded)
                    inline = not in_python and _claims_inline(plan, request)
                    outcome = await self._write(
                        conn, workflow_id, decision, definition, plan, known.row_version, request if inline else None
                    )
                    if isinstance(outcome, KnownRun):
                        raise _TaskClaimed
                    if request is not None and not inline:
                        outcome = await self._claim_after_writes(conn, request, in_python=in_python)
                return self._written(workflow_id, known, decision, plan, outcome)
            except (_TaskClaimed, pg_slices.SliceRefused):
                continue
            except asyncpg.DataError:
                if in_python:
                    raise
                in_python = True
        raise StoreError(f"Could not record a decision on run {workflow_id}: its tasks kept being claimed")

    async def _step(
        self, conn: asyncpg.Connection, step: DecisionStep, known: KnownRun
    ) -> tuple[Decision, Mapping[str, Task], WorkflowDef]:
        """The decision on the run as known, its tasks as loaded (by id), and the definition the run executes after
        the decision."""
        definition = await self._snapshot(conn, known.digest)
        run = known.run()
        decision = step(run, definition)
        return decision, known.loaded(run), decision.definition or definition

    def _written(
        self, workflow_id: str, known: KnownRun, decision: Decision, plan: sql.WritePlan, claimed: list[_Claimed]
    ) -> tuple[Decision, list[Task]]:
        """After the decision made on ``known`` committed: remember the run as written, and the claims."""
        current = self._known.peek(workflow_id)
        if current is None or current.row_version <= known.row_version:  # else a later decision is remembered
            known.tasks.apply(decision, sql.written_sizes(plan))
            digest = plan.snapshot.digest if plan.snapshot is not None else known.digest
            written = KnownRun(
                row_version=known.row_version + 1, digest=digest, header=decision.workflow, tasks=known.tasks
            )
            self._known.put(workflow_id, written)
        return decision, self._note_claims(claimed)

    def _note_claims(self, claimed: list[_Claimed]) -> list[Task]:
        """Bring the copies of the claimed tasks' runs up to the claims; the claimed tasks."""
        for task, version in claimed:
            known = self._known.peek(task.workflow_instance_id)
            if known is not None and not known.tasks.claimed(task, version - 1):
                self._known.forget(task.workflow_instance_id)
        return [task for task, _ in claimed]

    async def _claim_after_writes(
        self, conn: asyncpg.Connection, request: ClaimRequest, *, in_python: bool
    ) -> list[_Claimed]:
        """The claim of a decision that could not carry it in WRITE_DECISION, in the decision's transaction."""
        if request.limits is not None:
            return await self._claim_within(conn, request, request.limits)
        if in_python:
            return await self._claim_in_python(conn, request)
        return _decode_claimed(await conn.fetch(CLAIM_TASKS, *_claim_args(request)))

    async def _write(
        self,
        conn: asyncpg.Connection,
        workflow_id: str,
        decision: Decision,
        definition: WorkflowDef,
        plan: sql.WritePlan,
        row_version: int,
        claim: ClaimRequest | None,
    ) -> list[_Claimed] | KnownRun:
        """WRITE_DECISION, then the plan's other statements if it wrote: what it claimed; or, when the run or its
        tasks were not as read, the run as it is (nothing written).

        The caller holds a transaction whenever ``_has_more_statements(plan)``.
        """
        head, tails = pg_slices.split(plan)
        params = _decision_params(decision.workflow, head, definition)
        params["row_version"] = row_version
        params["claim_task_type"] = claim.task_type if claim else ""
        params["claim_now"] = claim.now if claim else 0
        params["claim_count"] = claim.count if claim else 0
        params["claim_worker_id"] = claim.worker_id if claim else None
        row = await conn.fetchrow(WRITE_DECISION, *_args(WRITE_DECISION_ARGS, params))
        written, bodies, versions = row[0], row[1], row[2]
        if not written:
            return self._known_from_row(workflow_id, tuple(row)[3:])
        await pg_slices.write_tails(conn, tails)
        if plan.task_deletes:
            await conn.execute(DELETE_TASKS, workflow_id, plan.task_deletes)
        if plan.snapshot is not None:
            snapshot = plan.snapshot
            await conn.execute(REPLACE_RUN_SNAPSHOT, snapshot.digest, snapshot.body, snapshot.version, workflow_id)
        if plan.outbox_inserts:
            await conn.executemany(INSERT_SIGNAL, plan.outbox_inserts)
        if plan.log_inserts:
            await conn.execute(INSERT_DECISION_LOGS, *sql.columns(plan.log_inserts, 3))
        return _decode_claimed(zip(bodies, versions, strict=True))

    async def _snapshot(self, conn: asyncpg.Connection, digest: str) -> WorkflowDef:
        definition = self._snapshots.get(digest)
        if definition is None:
            row = await conn.fetchrow(SELECT_SNAPSHOT, digest)
            if row is None:
                raise StoreError(f"Definition snapshot {digest} is missing")
            definition = sql.decode_workflow_def(row[0])
            self._snapshots.put(digest, definition, len(row[0]))
        return definition

    async def get_run(
        self, workflow_id: str, *, include_tasks: bool = True, task_limit: int | None = None
    ) -> Workflow | None:
        if not include_tasks:
            row = await self._fetchone("read a run", SELECT_RUN, workflow_id)
        elif task_limit is None:
            row = await self._fetchone("read a run", SELECT_RUN_WITH_TASKS, workflow_id)
        else:
            row = await self._fetchone("read a run", SELECT_RUN_WITH_FIRST_TASKS, workflow_id, task_limit)
        return None if row is None else sql.decode_run(row[0], row[1] or ())

    async def get_run_json(self, workflow_id: str, task_limit: int) -> tuple[str, list[tuple[int, str]]] | None:
        row = await self._fetchone("read a run", SELECT_RUN_JSON, workflow_id, task_limit)
        if row is None:
            return None
        body, seqs, statuses, bodies = row
        return body, _task_json(zip(seqs or (), statuses or (), bodies or (), strict=True))

    async def run_task_json_after(self, workflow_id: str, after_seq: int, limit: int) -> list[tuple[int, str]]:
        rows = await self._fetchall("read a run's tasks", SELECT_RUN_TASKS_AFTER, workflow_id, after_seq, limit)
        return _task_json(rows)

    async def run_tasks(
        self, workflow_id: str, *, start: int, count: int, statuses: Collection[str] = ()
    ) -> RunTaskPage | None:
        wanted = sorted(set(statuses))
        row = await self._fetchone("read a run's tasks", SELECT_RUN_TASK_PAGE, workflow_id, wanted, count, start)
        assert row is not None  # the statement always answers one row
        exists, counts, bodies = row
        if not exists:
            return None
        summary = {status: int(n) for status, n in counts}
        total = sum(n for status, n in summary.items() if not wanted or status in wanted)
        return RunTaskPage(total_hits=total, results=[sql.decode_task(body) for body in bodies], summary=summary)

    async def get_run_definition(self, workflow_id: str) -> WorkflowDef | None:
        row = await self._fetchone("read a run's definition", SELECT_RUN_SNAPSHOT, workflow_id)
        # Decoded afresh: the caller owns what it gets.
        return None if row is None else sql.decode_workflow_def(row[0])

    async def find_runs_by_correlation(
        self, name: str, correlation_id: str, *, include_closed: bool, include_tasks: bool
    ) -> list[Workflow]:
        params = {
            "name": name,
            "correlation_id": correlation_id,
            "include_closed": include_closed,
            "include_tasks": include_tasks,
        }
        rows = await self._fetchall(
            "find correlated runs", SELECT_CORRELATED_RUNS, *_args(SELECT_CORRELATED_RUNS_ARGS, params)
        )
        return [sql.decode_run(body, tasks or ()) for body, tasks in rows]

    async def delete_run(self, workflow_id: str) -> bool:
        self._known.forget(workflow_id)
        deleted = await self._rowcount("delete a run", DELETE_RUN, workflow_id) > 0
        self._known.forget(workflow_id)  # a decision may have remembered it meanwhile
        return deleted

    async def get_task(self, task_id: str) -> Task | None:
        row = await self._fetchone("read a task", SELECT_TASK, task_id)
        return None if row is None else sql.decode_task(row[0])

    async def workflow_id_of_task(self, task_id: str) -> str | None:
        row = await self._fetchone("read a task", SELECT_WORKFLOW_ID_OF_TASK, task_id)
        return None if row is None else str(row[0])

    # -- task logs -------------------------------------------------------------------

    async def add_task_logs(self, task_id: str, logs: Sequence[TaskExecLog]) -> bool:
        if not logs:
            return await self._fetchone("read a task", SELECT_TASK_EXISTS, task_id) is not None
        times = [log.created_time for log in logs]
        lines = [sql.encode_log_line(log.log) for log in logs]
        return await self._rowcount("add task logs", INSERT_TASK_LOGS, task_id, times, lines) > 0

    async def get_task_logs(self, task_id: str) -> list[TaskExecLog] | None:
        rows = await self._fetchall("read task logs", SELECT_TASK_LOGS, task_id)
        return sql.task_logs_of(task_id, rows)

    # -- queue and timers ------------------------------------------------------------

    async def claim_tasks(
        self, task_type: str, *, worker_id: str | None, count: int, now: int, limits: ClaimLimits | None = None
    ) -> list[Task]:
        if count <= 0:
            return []
        request = ClaimRequest(task_type, worker_id, count, now)
        try:
            with _translated("claim tasks"):
                async with self._claim_connection() as conn:
                    if limits is not None:
                        async with conn.transaction():
                            claimed = await self._claim_within(conn, request, limits)
                    else:
                        try:
                            claimed = _decode_claimed(await conn.fetch(CLAIM_TASKS, *_claim_args(request)))
                        except asyncpg.DataError:
                            claimed = await self._claim_in_python(conn, request)
        except BaseException:
            self._known.clear()  # a copy may hold a claim that was rolled back
            raise
        return self._note_claims(claimed)

    @classmethod
    async def _claim_within(
        cls, conn: asyncpg.Connection, request: ClaimRequest, limits: ClaimLimits
    ) -> list[_Claimed]:
        """A claim within ``limits``, in the caller's transaction: only for types that have limits.

        The type's advisory lock serialises its limited claims across processes
        until the transaction ends; the count after it sees all they committed.
        """
        task_type, now = request.task_type, request.now
        await conn.execute(LOCK_CLAIM_LIMIT, task_type)
        in_progress, in_window = await conn.fetchrow(COUNT_CLAIM_LEDGER, task_type, now - limits.window_ms)
        allowed = limits.allowed(request.count, in_progress=in_progress, in_window=in_window)
        if allowed <= 0:
            return []
        claimed = await cls._claim_in_python(conn, dataclasses.replace(request, count=allowed))
        if claimed:
            await conn.execute(INSERT_CLAIM_LEDGER, task_type, now, [task.task_id for task, _ in claimed])
        return claimed

    @staticmethod
    async def _claim_in_python(conn: asyncpg.Connection, request: ClaimRequest) -> list[_Claimed]:
        """The same claim, with the bodies rewritten by ``sql.claimed``: for what PostgreSQL's JSON refuses."""
        async with conn.transaction():
            rows = await conn.fetch(PICK_FOR_CLAIM, request.task_type, request.now, request.count)
            claimed = [
                (sql.claimed(sql.decode_task(body), worker_id=request.worker_id, now=request.now), version + 1)
                for body, version in rows
            ]
            if claimed:
                rewritten = sql.columns(
                    [sql.claim_update_row(task) for task, _ in claimed], len(sql.CLAIM_UPDATE_COLUMNS)
                )
                await conn.execute(REWRITE_CLAIMED, *rewritten)
        return claimed

    async def queue_sizes(self, task_types: Collection[str] | None = None) -> dict[str, int]:
        if task_types is None:
            rows = await self._fetchall("count queued tasks", COUNT_QUEUED)
            return {task_type: n for task_type, n in rows}
        sizes = dict.fromkeys(task_types, 0)
        if sizes:
            rows = await self._fetchall("count queued tasks", COUNT_QUEUED_OF, list(sizes))
            sizes.update({task_type: n for task_type, n in rows})
        return sizes

    async def due_timers(self, now: int, limit: int) -> list[DueTimer]:
        rows = await self._fetchall("read due timers", SELECT_DUE_TIMERS, now, limit)
        return [DueTimer(workflow_id=workflow_id, task_id=task_id) for workflow_id, task_id, _ in rows]

    # -- the outbox --------------------------------------------------------------------

    async def signals_created_before(self, created_before: int, limit: int) -> list[Signal]:
        rows = await self._fetchall("read the outbox", SELECT_SIGNALS_BEFORE, created_before, limit)
        return [sql.decode_signal(body) for (body,) in rows]

    async def delete_signal(self, signal_id: str) -> None:
        await self._rowcount("delete a signal", DELETE_SIGNAL, signal_id)

    # -- search and retention --------------------------------------------------------

    async def _search(self, statements: search_sql.SearchStatements, request: SearchRequest) -> tuple[int, list[str]]:
        with _translated("search"):
            async with self._connection() as conn:
                rows = await conn.fetch(statements.page.sql, *statements.page.params)
                counted = None
                if not search_sql.page_is_last(request.start, request.size, len(rows)):
                    counted = int(await conn.fetchval(statements.count.sql, *statements.count.params))
        bodies = [body for (body,) in rows]
        return search_sql.total_hits(request.start, request.size, len(bodies), counted), bodies

    async def search_runs(self, request: SearchRequest) -> RunPage:
        total, bodies = await self._search(search_sql.search_runs(search_sql.Dialect.POSTGRES, request), request)
        return RunPage(total_hits=total, results=[sql.decode_run(body) for body in bodies])

    async def search_tasks(self, request: SearchRequest) -> TaskPage:
        total, bodies = await self._search(search_sql.search_tasks(search_sql.Dialect.POSTGRES, request), request)
        return TaskPage(total_hits=total, results=[sql.decode_task(body) for body in bodies])

    async def running_run_ids(
        self, name: str, *, version: int | None, start_from: int | None, start_to: int | None
    ) -> list[str]:
        statement = search_sql.running_run_ids(
            search_sql.Dialect.POSTGRES, name, version=version, start_from=start_from, start_to=start_to
        )
        rows = await self._fetchall("list running runs", statement.sql, *statement.params)
        return [workflow_id for (workflow_id,) in rows]

    async def delete_finished_before(self, cutoff: int, limit: int) -> int:
        statement = search_sql.delete_finished_before(search_sql.Dialect.POSTGRES, cutoff, limit)
        rows = await self._fetchall("delete finished runs", statement.sql + " RETURNING workflow_id", *statement.params)
        for (workflow_id,) in rows:
            self._known.forget(workflow_id)
        return len(rows)


def _task_json(rows: Iterable[Sequence[Any]]) -> list[tuple[int, str]]:
    """``(seq, JSON)`` of ``(seq, status, body)`` rows: a claimed body carries the claimed fields twice (see
    _CLAIM_CTES) until its task's next decision, so an IN_PROGRESS one is re-encoded."""
    return [(seq, sql.encode(sql.decode_task(body)) if status == "IN_PROGRESS" else body) for seq, status, body in rows]


async def _plan(decision: Decision, workflow_id: str, loaded: Mapping[str, Task]) -> sql.WritePlan:
    """The decision's rows; a large one's encoded a slice a turn, so the loop is not held for all of them."""
    if sql.is_large(decision):
        return await sql.plan_decision_in_turns(decision, workflow_id=workflow_id, loaded=loaded)
    return sql.plan_decision(decision, workflow_id=workflow_id, loaded=loaded)


def _task_row_params(plan: sql.WritePlan) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, column in zip(
        sql.TASK_INSERT_COLUMNS, sql.columns(plan.task_inserts, len(sql.TASK_INSERT_COLUMNS)), strict=True
    ):
        params[f"new_{name}"] = column
    for name, column in zip(
        sql.QUEUE_UPSERT_COLUMNS, sql.columns(plan.queue_upserts, len(sql.QUEUE_UPSERT_COLUMNS)), strict=True
    ):
        params[f"queue_{name}"] = column
    for name, column in zip(
        sql.QUEUE_CLAIM_FIELD_COLUMNS,
        sql.columns(plan.queue_claim_fields, len(sql.QUEUE_CLAIM_FIELD_COLUMNS)),
        strict=True,
    ):
        params[f"queue_{name}"] = column
    return params


def _new_run_params(run: Workflow, plan: sql.WritePlan, digest: str, definition: WorkflowDef) -> dict[str, Any]:
    params = dict(zip(sql.RUN_INSERT_COLUMNS, sql.run_insert_row(run, digest, definition), strict=True))
    params["snapshot_body"] = None
    params.update(_task_row_params(plan))
    return params


def _decision_params(run: Workflow, plan: sql.WritePlan, definition: WorkflowDef) -> dict[str, Any]:
    params = dict(zip(sql.RUN_UPDATE_COLUMNS, sql.run_update_row(run, definition), strict=True))
    params.update(_task_row_params(plan))
    for name, column in zip(
        sql.TASK_UPDATE_COLUMNS, sql.columns(plan.task_updates, len(sql.TASK_UPDATE_COLUMNS)), strict=True
    ):
        params[f"upd_{name}"] = column
    params["dequeue_task_id"] = [task_id for (task_id,) in plan.queue_deletes]
    return params
