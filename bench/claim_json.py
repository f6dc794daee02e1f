"""What a claim's rewrite of a task body costs PostgreSQL: the claimed fields appended as text, or its JSON functions.

    .venv/bin/python bench/claim_json.py [--bodies 20000] [--rounds 15]

Each expression rewrites every body of a table of claimed-size task bodies (about
1.7 kB, stored inline as in ``tasks``) as CLAIM_TASKS does; the rounds interleave
the expressions so that a shared machine's load falls on each alike. Printed: the
median time per body, and the same net of reading the body.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import asyncpg

from baton.store.testing import create_test_database, drop_test_database

EXPRESSIONS = {
    "read only": "body",
    "text append (CLAIM_TASKS)": (
        """left(body, -1) || ',"status":"IN_PROGRESS","workerId":' || coalesce(to_json('w1'::text)::text, 'null')"""
        """ || ',"pollCount":' || 1 || ',"startTime":' || 5 || ',"updateTime":' || 5"""
        """ || ',"leaseExpiresAt":' || 65005 || '}'"""
    ),
    "jsonb ||": (
        "(body::jsonb || jsonb_build_object('status', 'IN_PROGRESS', 'workerId', 'w1', 'pollCount', 1,"
        " 'startTime', 5, 'updateTime', 5, 'leaseExpiresAt', 65005))::text"
    ),
    "json_each + json_object_agg": (
        "(SELECT json_object_agg(k, v)::text FROM ("
        " SELECT key AS k, value AS v FROM json_each(body::json)"
        " WHERE key NOT IN ('status', 'workerId', 'pollCount', 'startTime', 'updateTime', 'leaseExpiresAt')"
        " UNION ALL SELECT * FROM json_each(json_build_object('status', 'IN_PROGRESS', 'workerId', 'w1',"
        " 'pollCount', 1, 'startTime', 5, 'updateTime', 5, 'leaseExpiresAt', 65005))) fields)"
    ),
}


def _body() -> str:
    task = {"taskType": "t", "status": "SCHEDULED", "referenceTaskName": "r", "inputData": {"x": "y" * 1500}}
    task.update(taskId="00000000-0000-0000-0000-000000000000", workflowInstanceId="w", seq=1, pollCount=0)
    task.update(responseTimeoutSeconds=60)
    return json.dumps(task)


async def measure(url: str, bodies: int, rounds: int) -> dict[str, float]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE bodies (body text)")
        await conn.execute("ALTER TABLE bodies ALTER COLUMN body SET STORAGE MAIN")
        await conn.execute("INSERT INTO bodies SELECT $1 FROM generate_series(1, $2)", _body(), bodies)
        await conn.execute("VACUUM ANALYZE bodies")
        times: dict[str, list[float]] = {name: [] for name in EXPRESSIONS}
        for _ in range(rounds):
            for name, expression in EXPRESSIONS.items():
                started = time.perf_counter()
                await conn.fetchval(f"SELECT sum(length({expression})) FROM bodies")
                times[name].append(time.perf_counter() - started)
        return {name: statistics.median(taken) / bodies * 1e6 for name, taken in times.items()}
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    url = create_test_database()
    try:
        per_body = asyncio.run(measure(url, args.bodies, args.rounds))
    finally:
        drop_test_database(url)
    read = per_body["read only"]
    for name, micros in per_body.items():
        print(f"{name:30} {micros:6.2f} us a body, {micros - read:6.2f} us net of reading it")


if __name__ == "__main__":
    main()
