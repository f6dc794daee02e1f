"""Many finished runs written straight into a migrated SQLite file, for benchmarks and tests of large databases.

SQLite makes the rows itself (a recursive CTE, one transaction): a million runs take
seconds, against minutes through the API. Each run is COMPLETED, of one of ``types``
workflow names, with an input that names a customer and an order; start times are
one second apart from ``base_time``. Runs only: no tasks.
"""

from __future__ import annotations

import sqlite3

SNAPSHOT_HASH = "bulk-snapshot"
_SNAPSHOT_BODY = '{"name":"bulk","version":1,"tasks":[]}'

_INSERT_RUNS = """
WITH RECURSIVE numbers(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM numbers WHERE i + 1 < :count),
source AS (
    SELECT i,
           printf('bulk-%012d', i) AS workflow_id,
           'bulk_type_' || (i % :types) AS name,
           :base_time + i * 1000 AS create_time
    FROM numbers
)
INSERT INTO runs (workflow_id, name, version, status, correlation_id, priority,
                  create_time, update_time, end_time, snapshot_hash, body)
SELECT workflow_id, name, 1, 'COMPLETED', NULL, 0, create_time, create_time + 500, create_time + 500, :snapshot,
       json_object('workflowId', workflow_id, 'workflowName', name, 'workflowVersion', 1, 'status', 'COMPLETED',
                   'input', json_object('customer', 'cust-' || (i % 50000), 'orderId', 'order-' || i),
                   'output', json_object('ok', json('true')),
                   'createTime', create_time, 'startTime', create_time,
                   'updateTime', create_time + 500, 'endTime', create_time + 500)
FROM source
"""


def fill_runs(path: str, count: int, *, types: int = 20, base_time: int = 1_700_000_000_000) -> None:
    """Add ``count`` finished runs to the SQLite file at ``path`` (already migrated, served by nobody)."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT OR IGNORE INTO definition_snapshots (hash, body) VALUES (?, ?)", (SNAPSHOT_HASH, _SNAPSHOT_BODY)
        )
        params = {"count": count, "types": types, "base_time": base_time, "snapshot": SNAPSHOT_HASH}
        conn.execute(_INSERT_RUNS, params)
        conn.execute("COMMIT")
    finally:
        conn.close()
