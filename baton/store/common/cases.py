"""Entities, cases, reviewers' decisions and saved filters (``CaseStore``), written once for both stores.

The case list is one statement over ``runs`` (the runs of the case definitions' names) with what is kept
beside each run joined in; a case's state is derived in SQL by the rule ``service/entities.case_state`` states
in Python (its run's status, a pending HUMAN or WAIT step, its last decision), so the list filters and counts
by it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from baton.model.cases import CaseDecision, CaseFilter, CasePage, CaseQuery, CaseRecord, CaseSummary, Entity
from baton.store.common.database import Database
from baton.store.common.dialect import Dialect, per_dialect

INSERT_ENTITY = per_dialect("""
INSERT INTO ballerine_entities (entity_id, entity_type, external_id, created_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (entity_type, external_id) DO NOTHING""")
SELECT_ENTITY_BY_EXTERNAL = per_dialect("""
SELECT entity_id, entity_type, external_id, created_at FROM ballerine_entities
WHERE entity_type = $1 AND external_id = $2""")
SELECT_ENTITY = per_dialect("""
SELECT entity_id, entity_type, external_id, created_at FROM ballerine_entities WHERE entity_id = $1""")

INSERT_CASE = per_dialect("""
INSERT INTO cases (workflow_id, workflow_name, entity_id, entity_name, config, created_at)
SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), CAST($4 AS TEXT), CAST($5 AS TEXT), CAST($6 AS BIGINT)
WHERE EXISTS (SELECT 1 FROM runs WHERE workflow_id = $1)
ON CONFLICT (workflow_id) DO NOTHING""")
SELECT_CASE = per_dialect("""
SELECT workflow_id, workflow_name, entity_id, entity_name, config, assignee_id, assigned_at, last_decision, created_at
FROM cases WHERE workflow_id = $1""")
ASSIGN_CASE = per_dialect("UPDATE cases SET assignee_id = $2, assigned_at = $3 WHERE workflow_id = $1")
SELECT_KEY_HOLDER = per_dialect("SELECT workflow_id FROM idempotency_keys WHERE key = $1")

LOCK_CASE = per_dialect(lambda d: f"SELECT workflow_id FROM cases WHERE workflow_id = $1{d.lock_rows}")
NEXT_DECISION_SEQ = per_dialect("SELECT COALESCE(MAX(seq), 0) + 1 FROM case_decisions WHERE workflow_id = $1")
INSERT_DECISION = per_dialect("""
INSERT INTO case_decisions (workflow_id, seq, decision, reviewer, reason, task_id, decided_at)
VALUES ($1, $2, $3, $4, $5, $6, $7)""")
SET_LAST_DECISION = per_dialect("UPDATE cases SET last_decision = $2 WHERE workflow_id = $1")
SELECT_DECISIONS = per_dialect("""
SELECT decision, reviewer, reason, decided_at, task_id FROM case_decisions WHERE workflow_id = $1 ORDER BY seq""")

INSERT_FILTER = per_dialect("""
INSERT INTO case_filters (filter_id, name, entity, query, created_at) VALUES ($1, $2, $3, $4, $5)""")
SELECT_FILTERS = per_dialect(
    "SELECT filter_id, name, entity, query, created_at FROM case_filters ORDER BY created_at, name"
)
SELECT_FILTER = per_dialect("SELECT filter_id, name, entity, query, created_at FROM case_filters WHERE filter_id = $1")

_STATE = """CASE
        WHEN r.status IN ('FAILED', 'TIMED_OUT', 'TERMINATED') THEN 'failed'
        WHEN r.status = 'COMPLETED' THEN
            CASE c.last_decision WHEN 'approve' THEN 'approved' WHEN 'reject' THEN 'rejected' ELSE 'completed' END
        WHEN EXISTS (
            SELECT 1 FROM tasks t WHERE t.workflow_id = r.workflow_id AND t.task_type = 'HUMAN'
            AND t.status IN ('SCHEDULED', 'IN_PROGRESS')
        ) THEN 'manual_review'
        WHEN c.last_decision = 'revision' AND EXISTS (
            SELECT 1 FROM tasks t WHERE t.workflow_id = r.workflow_id AND t.task_type = 'WAIT'
            AND t.status IN ('SCHEDULED', 'IN_PROGRESS')
        ) THEN 'revision'
        WHEN c.last_decision = 'approve' THEN 'approved'
        WHEN c.last_decision = 'reject' THEN 'rejected'
        ELSE 'pending_process'
    END"""

_ORDER_COLUMNS = {"createdAt": "create_time", "updatedAt": "update_time"}
"""The case list's ``orderBy`` columns and the runs' columns they sort by."""


def _flag(dialect: Dialect, param: str) -> str:
    return f"{param}::boolean" if dialect is Dialect.POSTGRES else param


def _text(dialect: Dialect, param: str) -> str:
    return f"{param}::text" if dialect is Dialect.POSTGRES else param


def _listed(dialect: Dialect) -> str:
    """The case list's rows with their state, filtered; $1 .. $14 as ``_list_args`` binds them."""
    return f"""
WITH listed AS (
    SELECT r.workflow_id, r.name, r.version, r.status, r.correlation_id, r.create_time, r.update_time,
        c.entity_id, e.entity_type, e.external_id, c.entity_name, c.assignee_id, c.assigned_at,
        {_STATE} AS state
    FROM runs r
    LEFT JOIN cases c ON c.workflow_id = r.workflow_id
    LEFT JOIN ballerine_entities e ON e.entity_id = c.entity_id
    WHERE r.name {dialect.one_of("$1", "text")}
)
SELECT * FROM listed l
WHERE ({_flag(dialect, "$2")} OR l.state {dialect.one_of("$3", "text")})
  AND ({_flag(dialect, "$4")} OR COALESCE(l.assignee_id, '') = {_text(dialect, "$5")})
  AND ({_flag(dialect, "$6")} OR l.status {dialect.one_of("$7", "text")})
  AND ({_flag(dialect, "$8")} OR l.entity_type = {_text(dialect, "$9")}
       OR (l.entity_type IS NULL AND l.name {dialect.one_of("$10", "text")}))
  AND ({_flag(dialect, "$11")}
       OR lower(l.workflow_id) LIKE {_text(dialect, "$12")} ESCAPE '!'
       OR lower(COALESCE(l.correlation_id, '')) LIKE {_text(dialect, "$12")} ESCAPE '!'
       OR lower(COALESCE(l.external_id, '')) LIKE {_text(dialect, "$12")} ESCAPE '!'
       OR lower(COALESCE(l.entity_name, '')) LIKE {_text(dialect, "$12")} ESCAPE '!')"""


COUNT_CASES = per_dialect(lambda d: f"SELECT COUNT(*) FROM ({_listed(d)}) counted")


def _page(column: str, descending: bool) -> Callable[[Dialect], str]:
    way = "DESC" if descending else "ASC"
    return lambda d: f"{_listed(d)}\nORDER BY l.{column} {way}, l.workflow_id {way} LIMIT $13 OFFSET $14"


PAGE_CASES = {
    (order, descending): per_dialect(_page(column, descending))
    for order, column in _ORDER_COLUMNS.items()
    for descending in (True, False)
}


def _like(search: str) -> str:
    escaped = search.lower().replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{escaped}%"


def _list_args(dialect: Dialect, query: CaseQuery) -> list[Any]:
    return [
        dialect.list_value(query.names),
        query.states is None,
        dialect.list_value(query.states or []),
        query.assignee is None,
        query.assignee or "",
        query.run_statuses is None,
        dialect.list_value(query.run_statuses or []),
        query.entity_type is None,
        query.entity_type or "",
        dialect.list_value(query.typed_names),
        not query.search,
        _like(query.search or ""),
    ]


class Cases:
    """``CaseStore`` over the store's ``Database``."""

    _db: Database

    async def entity_for(self, entity_type: str, external_id: str, new_id: str, now: int) -> Entity:
        dialect = self._db.dialect
        async with self._db.write("find or add an entity") as tx:
            await tx.execute(INSERT_ENTITY[dialect], new_id, entity_type, external_id, now)
            row = await tx.fetchone(SELECT_ENTITY_BY_EXTERNAL[dialect], entity_type, external_id)
        assert row is not None
        return _entity(row)

    async def get_entity(self, entity_id: str) -> Entity | None:
        async with self._db.read("read an entity") as tx:
            row = await tx.fetchone(SELECT_ENTITY[self._db.dialect], entity_id)
        return None if row is None else _entity(row)

    async def add_case(self, record: CaseRecord) -> bool:
        args = (
            record.workflow_id,
            record.workflow_name,
            record.entity_id,
            record.entity_name,
            json.dumps(record.config),
            record.created_at,
        )
        async with self._db.write_one("add a case") as tx:
            return await tx.execute(INSERT_CASE[self._db.dialect], *args) > 0

    async def get_case(self, workflow_id: str) -> CaseRecord | None:
        async with self._db.read("read a case") as tx:
            row = await tx.fetchone(SELECT_CASE[self._db.dialect], workflow_id)
        if row is None:
            return None
        return CaseRecord(
            workflow_id=row[0],
            workflow_name=row[1],
            entity_id=row[2],
            entity_name=row[3],
            config=json.loads(row[4]),
            assignee_id=row[5],
            assigned_at=row[6],
            last_decision=row[7],
            created_at=row[8],
        )

    async def assign_case(self, workflow_id: str, assignee_id: str | None, now: int) -> bool:
        assigned_at = None if assignee_id is None else now
        async with self._db.write_one("assign a case") as tx:
            return await tx.execute(ASSIGN_CASE[self._db.dialect], workflow_id, assignee_id, assigned_at) > 0

    async def run_holding_key(self, key: str) -> str | None:
        async with self._db.read("read an idempotency key") as tx:
            row = await tx.fetchone(SELECT_KEY_HOLDER[self._db.dialect], key)
        return None if row is None else str(row[0])

    async def add_decision(self, workflow_id: str, decision: CaseDecision) -> int:
        dialect = self._db.dialect
        async with self._db.write("record a decision") as tx:
            await tx.fetchone(LOCK_CASE[dialect], workflow_id)
            row = await tx.fetchone(NEXT_DECISION_SEQ[dialect], workflow_id)
            seq = int(row[0]) if row is not None else 1
            await tx.execute(
                INSERT_DECISION[dialect],
                workflow_id,
                seq,
                decision.decision,
                decision.reviewer,
                decision.reason,
                decision.task_id,
                decision.decided_at,
            )
            await tx.execute(SET_LAST_DECISION[dialect], workflow_id, decision.decision)
        return seq

    async def case_decisions(self, workflow_id: str) -> list[CaseDecision]:
        async with self._db.read("read decisions") as tx:
            rows = await tx.fetchall(SELECT_DECISIONS[self._db.dialect], workflow_id)
        return [
            CaseDecision(decision=row[0], reviewer=row[1], reason=row[2], decided_at=row[3], task_id=row[4])
            for row in rows
        ]

    async def list_cases(self, query: CaseQuery) -> CasePage:
        dialect = self._db.dialect
        args = _list_args(dialect, query)
        statement = PAGE_CASES[(query.order_by, query.descending)][dialect]
        async with self._db.long_read("list cases") as tx:
            counted = await tx.fetchone(COUNT_CASES[dialect], *args)
            rows = await tx.fetchall(statement, *args, query.limit, query.offset)
        items = [
            CaseSummary(
                workflow_id=row[0],
                workflow_name=row[1],
                workflow_version=row[2],
                status=row[3],
                correlation_id=row[4],
                create_time=row[5],
                update_time=row[6],
                entity_id=row[7],
                entity_type=row[8],
                external_id=row[9],
                entity_name=row[10],
                assignee_id=row[11],
                assigned_at=row[12],
                state=row[13],
            )
            for row in rows
        ]
        return CasePage(items=items, total=0 if counted is None else int(counted[0]))

    async def add_filter(self, case_filter: CaseFilter) -> None:
        args = (
            case_filter.filter_id,
            case_filter.name,
            case_filter.entity,
            json.dumps(case_filter.query),
            case_filter.created_at,
        )
        async with self._db.write_one("add a filter") as tx:
            await tx.execute(INSERT_FILTER[self._db.dialect], *args)

    async def list_filters(self) -> list[CaseFilter]:
        async with self._db.read("list filters") as tx:
            rows = await tx.fetchall(SELECT_FILTERS[self._db.dialect])
        return [_filter(row) for row in rows]

    async def get_filter(self, filter_id: str) -> CaseFilter | None:
        async with self._db.read("read a filter") as tx:
            row = await tx.fetchone(SELECT_FILTER[self._db.dialect], filter_id)
        return None if row is None else _filter(row)


def _entity(row: Any) -> Entity:
    return Entity(entity_id=row[0], entity_type=row[1], external_id=row[2], created_at=row[3])


def _filter(row: Any) -> CaseFilter:
    return CaseFilter(filter_id=row[0], name=row[1], entity=row[2], query=json.loads(row[3]), created_at=row[4])
