"""SQL for search, the running-ids list and retention, built from a parsed query for each dialect.

The query AST (``baton/model/search_query.py``) is hostile input turned into
structure: field names are looked up in the fixed maps below (never copied into
the SQL), and every value is a bound parameter (``?`` on SQLite, ``$n`` on
PostgreSQL). Only the shape of the statement depends on the query.

How each field is read:

* run fields are columns of ``runs`` (``startTime`` is ``create_time``); task fields
  are columns of ``tasks`` where one exists, else read from the task's JSON body;
  a task's ``workflowType`` and ``correlationId`` come from its run's row.
* A time of 0 means "not reached" (an end time of a run still running), as a missing
  field does in Conductor's Elasticsearch: ``endTime < x`` does not match it, and
  ``endTime != x`` does. The same holds for a NULL correlation id.
* ``freeText`` words must each appear in the run's id, correlation id or input. On
  PostgreSQL it is a word match against ``runs.search_vector`` (a ``tsvector`` set
  by a trigger when the run is inserted or reopened, GIN-indexed, 'simple'
  configuration: no stemming, case-insensitive; see migration 0002),
  as Elasticsearch matches words; on SQLite a case-insensitive substring match
  (``LIKE``, not indexed; a run's body is first read as text for the word, and its input parsed only
  when the word is there). For tasks: the task id, run id and the task's input.
* ``entityId`` (runs only) is the Ballerine entity a run is about (``ballerineEntityId``), kept beside the run
  in ``cases``: a test on it reads that table through its entity index and keeps the runs it names.

Paging deep: ``older_than`` / ``newer_than`` bound a run search by a run's place in the default order (a row
value compared with ``(create_time, workflow_id)``, which the start-time index reads from that place on), so the
thousandth page costs what the first does.

``count_runs_by_status`` counts a search's matches in each status in one grouped statement, exactly (no cap):
the dashboard shows these counts on every page of its runs list.

Counting: ``count_sql`` counts at most ``TOTAL_HITS_CAP + 1`` rows, so a broad
search over a million runs does not count them all on every page.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from baton.model import WorkflowStatus
from baton.model.search_query import And, Comparison, FieldKind, Operator, Or, Query, SortKey
from baton.store.base import TOTAL_HITS_CAP, SearchRequest
from baton.store.common.dialect import Dialect

FINISHED_STATUSES = tuple(s.value for s in WorkflowStatus if s.is_terminal)


@dataclass
class _Params:
    """Collects bound values; ``add`` returns the placeholder that stands for one."""

    dialect: Dialect
    values: list[Any] = field(default_factory=list)

    def add(self, value: Any) -> str:
        self.values.append(value)
        return "?" if self.dialect is Dialect.SQLITE else f"${len(self.values)}"


@dataclass(frozen=True)
class _Column:
    """How a field reads in SQL; ``zero_is_missing``: a time that is 0 until reached.

    ``not_before``: a column whose value is never later than this one (a run's end
    and update times are never before its start), so an upper bound on this one
    bounds that one too; said in the SQL, it lets the start-time index narrow
    ``endTime < t`` instead of filtering every run newer than ``t``.

    ``through``: a field kept in another table, as ``inner`` there; the test on ``inner`` (``{test}``) goes
    inside this condition, so it is read through that table's index rather than once a run (``sql`` is then
    only used to sort).
    """

    sql: str
    kind: FieldKind
    zero_is_missing: bool = False
    not_before: str | None = None
    through: str | None = None
    inner: str | None = None


def _task_body_time(dialect: Dialect, name: str) -> _Column:
    if dialect is Dialect.SQLITE:
        expression = f"json_extract(t.body, '$.{name}')"
    else:
        expression = f"((t.body::json ->> '{name}')::bigint)"
    return _Column(expression, FieldKind.TIME, zero_is_missing=True)


def _run_columns(dialect: Dialect) -> dict[str, _Column]:
    return {
        "workflowId": _Column("r.workflow_id", FieldKind.TEXT),
        "workflowType": _Column("r.name", FieldKind.TEXT),
        "correlationId": _Column("r.correlation_id", FieldKind.TEXT),
        "status": _Column("r.status", FieldKind.STATUS),
        "version": _Column("r.version", FieldKind.NUMBER),
        "priority": _Column("r.priority", FieldKind.NUMBER),
        "startTime": _Column("r.create_time", FieldKind.TIME, zero_is_missing=True),
        "updateTime": _Column("r.update_time", FieldKind.TIME, zero_is_missing=True, not_before="r.create_time"),
        "endTime": _Column("r.end_time", FieldKind.TIME, zero_is_missing=True, not_before="r.create_time"),
        "entityId": _Column(
            "(SELECT c.entity_id FROM cases c WHERE c.workflow_id = r.workflow_id)",
            FieldKind.TEXT,
            through="r.workflow_id IN (SELECT c.workflow_id FROM cases c WHERE {test})",
            inner="c.entity_id",
        ),
    }


def _task_columns(dialect: Dialect) -> dict[str, _Column]:
    def_name = (
        "json_extract(t.body, '$.taskDefName')" if dialect is Dialect.SQLITE else "(t.body::json ->> 'taskDefName')"
    )
    return {
        "taskId": _Column("t.task_id", FieldKind.TEXT),
        "taskType": _Column("t.task_type", FieldKind.TEXT),
        "taskDefName": _Column(def_name, FieldKind.TEXT),
        "referenceTaskName": _Column("t.ref", FieldKind.TEXT),
        "workflowId": _Column("t.workflow_id", FieldKind.TEXT),
        "workflowType": _Column("r.name", FieldKind.TEXT),
        "correlationId": _Column("r.correlation_id", FieldKind.TEXT),
        "status": _Column("t.status", FieldKind.STATUS),
        "scheduledTime": _task_body_time(dialect, "scheduledTime"),
        "startTime": _task_body_time(dialect, "startTime"),
        "updateTime": _task_body_time(dialect, "updateTime"),
        "endTime": _task_body_time(dialect, "endTime"),
    }


_RUN_COLUMNS = {dialect: _run_columns(dialect) for dialect in Dialect}
_TASK_COLUMNS = {dialect: _task_columns(dialect) for dialect in Dialect}
_POSITIVE = {
    Operator.EQ: "=",
    Operator.GT: ">",
    Operator.GE: ">=",
    Operator.LT: "<",
    Operator.LE: "<=",
}


_UPPER_BOUNDS = frozenset({Operator.EQ, Operator.LT, Operator.LE, Operator.IN})


def _comparison(comparison: Comparison, columns: dict[str, _Column], params: _Params) -> str:
    column = columns[comparison.field]
    negated = comparison.operator in (Operator.NE, Operator.NOT_IN)
    tested = column.inner or column.sql
    if comparison.operator in (Operator.IN, Operator.NOT_IN):
        placeholders = ", ".join(params.add(v) for v in comparison.values)
        test = f"{tested} IN ({placeholders})"
    elif comparison.operator is Operator.NE:
        test = f"{tested} = {params.add(comparison.values[0])}"
    else:
        test = f"{tested} {_POSITIVE[comparison.operator]} {params.add(comparison.values[0])}"
    if column.through is not None:
        test = column.through.format(test=test)
    if column.zero_is_missing:
        test = f"{column.sql} > 0 AND {test}"
    if column.not_before is not None and comparison.operator in _UPPER_BOUNDS:
        test = f"{test} AND {column.not_before} <= {params.add(max(comparison.values))}"
    # NOT of a test on a missing value (NULL, or a time of 0) is true, as must_not is in Elasticsearch.
    return f"NOT coalesce(({test}), FALSE)" if negated else f"({test})"


def _where_query(query: Query, columns: dict[str, _Column], params: _Params) -> str:
    if isinstance(query, Comparison):
        return _comparison(query, columns, params)
    joiner = " AND " if isinstance(query, And) else " OR "
    assert isinstance(query, And | Or)
    return "(" + joiner.join(_where_query(part, columns, params) for part in query.parts) + ")"


def _like_pattern(word: str) -> str:
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _free_text(words: tuple[str, ...], *, tasks: bool, params: _Params) -> list[str]:
    if not words:
        return []
    if params.dialect is Dialect.POSTGRES:
        if tasks:
            document = (
                "to_tsvector('simple', t.task_id || ' ' || t.workflow_id || ' ' "
                "|| coalesce(t.body::json ->> 'inputData', ''))"
            )
        else:
            document = "r.search_vector"
        return [f"{document} @@ plainto_tsquery('simple', {params.add(' '.join(words))})"]
    if tasks:
        text = "(t.task_id || ' ' || t.workflow_id || ' ' || coalesce(json_extract(t.body, '$.inputData'), ''))"
        return [f"{text} LIKE {params.add(_like_pattern(word))} ESCAPE '\\'" for word in words]
    text = (
        "(r.workflow_id || ' ' || coalesce(r.correlation_id, '') || ' ' "
        "|| coalesce(json_extract(r.body, '$.input'), ''))"
    )
    conditions = []
    for word in words:
        if _same_in_json(word):
            # The run's id, correlation id and input are in its body as written: a body without the word
            # has no match, and is passed over without parsing its JSON (three times fewer costs per run).
            conditions.append(f"r.body LIKE {params.add(_like_pattern(word))} ESCAPE '\\'")
        conditions.append(f"{text} LIKE {params.add(_like_pattern(word))} ESCAPE '\\'")
    return conditions


def _same_in_json(word: str) -> bool:
    """Whether ``word`` reads the same inside a JSON string (nothing in it is escaped there)."""
    return word.isprintable() and '"' not in word and "\\" not in word


def _order_by(sort: tuple[SortKey, ...], columns: dict[str, _Column], default: str, tie_breaker: str) -> str:
    if not sort:
        return default
    keys = [f"{columns[key.field].sql} {'DESC' if key.descending else 'ASC'}" for key in sort]
    direction = "DESC" if sort[-1].descending else "ASC"
    keys.append(f"{tie_breaker} {direction}")
    return ", ".join(keys)


@dataclass(frozen=True)
class Statement:
    sql: str
    params: list[Any]


@dataclass(frozen=True)
class SearchStatements:
    page: Statement
    """The page's rows: ``body`` (run header or task)."""
    count: Statement
    """One row, one column: the number of matches, at most ``TOTAL_HITS_CAP + 1``."""


def _where(request: SearchRequest, columns: dict[str, _Column], *, tasks: bool, params: _Params) -> str:
    conditions: list[str] = []
    if request.query is not None:
        conditions.append(_where_query(request.query, columns, params))
    conditions.extend(_free_text(request.free_text, tasks=tasks, params=params))
    return " AND ".join(conditions) if conditions else "TRUE"


def _run_where(request: SearchRequest, params: _Params) -> str:
    """The run search's conditions, with its place in the default order when it has one."""
    where = _where(request, _RUN_COLUMNS[params.dialect], tasks=False, params=params)
    for position, operator in ((request.older_than, "<"), (request.newer_than, ">")):
        if position is not None:
            start_time, workflow_id = params.add(position.start_time), params.add(position.workflow_id)
            where = f"{where} AND (r.create_time, r.workflow_id) {operator} ({start_time}, {workflow_id})"
    return where


def search_runs(dialect: Dialect, request: SearchRequest) -> SearchStatements:
    """The page and the count; with ``newer_than`` the page comes oldest first (the runs nearest that one), and
    the caller turns it round."""
    columns = _RUN_COLUMNS[dialect]
    page_params = _Params(dialect)
    where = _run_where(request, page_params)
    if request.newer_than is not None:
        order = "r.create_time ASC, r.workflow_id ASC"
    else:
        order = _order_by(request.sort, columns, "r.create_time DESC, r.workflow_id DESC", "r.workflow_id")
    limit = page_params.add(request.size)
    offset = page_params.add(request.start)
    page = f"SELECT r.body FROM runs r WHERE {where} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
    count_params = _Params(dialect)
    count_where = _run_where(request, count_params)
    cap = count_params.add(TOTAL_HITS_CAP + 1)
    count = f"SELECT count(*) FROM (SELECT 1 FROM runs r WHERE {count_where} LIMIT {cap}) hits"
    return SearchStatements(Statement(page, page_params.values), Statement(count, count_params.values))


def count_runs_by_status(dialect: Dialect, request: SearchRequest) -> Statement:
    """Rows of (status, how many runs match ``request``'s query and free text in it); its order and page are
    not read."""
    params = _Params(dialect)
    where = _where(request, _RUN_COLUMNS[dialect], tasks=False, params=params)
    # SQLite: with free text every run is read anyway; unary + keeps the planner off the status index, which
    # would read them in its order, a lookup each (three to ten times slower than reading the table through).
    status = "+r.status" if dialect is Dialect.SQLITE and request.free_text else "r.status"
    return Statement(f"SELECT {status}, count(*) FROM runs r WHERE {where} GROUP BY {status}", params.values)


def search_tasks(dialect: Dialect, request: SearchRequest) -> SearchStatements:
    columns = _TASK_COLUMNS[dialect]
    tables = "tasks t JOIN runs r ON r.workflow_id = t.workflow_id"
    page_params = _Params(dialect)
    where = _where(request, columns, tasks=True, params=page_params)
    # With a query, "+ 0" keeps PostgreSQL from walking runs in start-time order to fill the page:
    # a LIMIT plan that probes every run's tasks when the matches are rare (seconds on a million
    # runs). The matches are found through the query's index and sorted instead.
    newest_run = "r.create_time DESC" if request.query is None else "(r.create_time + 0) DESC"
    order = _order_by(request.sort, columns, f"{newest_run}, t.workflow_id DESC, t.seq ASC", "t.task_id")
    limit = page_params.add(request.size)
    offset = page_params.add(request.start)
    page = f"SELECT t.body FROM {tables} WHERE {where} ORDER BY {order} LIMIT {limit} OFFSET {offset}"
    count_params = _Params(dialect)
    count_where = _where(request, columns, tasks=True, params=count_params)
    cap = count_params.add(TOTAL_HITS_CAP + 1)
    count = f"SELECT count(*) FROM (SELECT 1 FROM {tables} WHERE {count_where} LIMIT {cap}) hits"
    return SearchStatements(Statement(page, page_params.values), Statement(count, count_params.values))


def running_run_ids(
    dialect: Dialect, name: str, *, version: int | None, start_from: int | None, start_to: int | None
) -> Statement:
    params = _Params(dialect)
    conditions = ["status = 'RUNNING'", f"name = {params.add(name)}"]
    if version is not None:
        conditions.append(f"version = {params.add(version)}")
    if start_from is not None:
        conditions.append(f"create_time >= {params.add(start_from)}")
    if start_to is not None:
        conditions.append(f"create_time <= {params.add(start_to)}")
    where = " AND ".join(conditions)
    return Statement(f"SELECT workflow_id FROM runs WHERE {where} ORDER BY create_time, workflow_id", params.values)


def delete_finished_before(dialect: Dialect, cutoff: int, limit: int) -> Statement:
    """Deletes one batch and returns the deleted runs' ids; their tasks, queue rows and keys go with them
    (cascades; on PostgreSQL tasks and queue rows by delete triggers).

    A run that ended before ``cutoff`` started before it too, so the batch is found
    through the start-time index: only runs started before the cutoff are read, and
    of those the finished ones taken. On PostgreSQL, a run locked by a decision in
    flight is skipped (SKIP LOCKED) and left for the next pass.
    """
    params = _Params(dialect)  # added in the order they appear: SQLite's ``?`` are positional
    cutoff_start = params.add(cutoff)
    statuses = ", ".join(params.add(status) for status in FINISHED_STATUSES)
    cutoff_end = params.add(cutoff)
    batch = params.add(limit)
    lock = " FOR UPDATE SKIP LOCKED" if dialect is Dialect.POSTGRES else ""
    # SQLite: unary + keeps the planner off the status index (which would sort every finished run).
    status = "+status" if dialect is Dialect.SQLITE else "status"
    return Statement(
        f"""
DELETE FROM runs WHERE workflow_id IN (
    SELECT workflow_id FROM runs
    WHERE create_time < {cutoff_start} AND {status} IN ({statuses}) AND end_time < {cutoff_end}
    ORDER BY create_time
    LIMIT {batch}{lock}
)
RETURNING workflow_id""",
        params.values,
    )


def total_hits(start: int, page_size: int, returned: int, counted: int | None) -> int:
    """What ``total_hits`` says: exact from the page itself when it is the last one, else the (capped) count."""
    if counted is None:
        return start + returned
    return min(counted, TOTAL_HITS_CAP)


def page_is_last(start: int, size: int, returned: int) -> bool:
    """True when the page alone tells the total: it is short and not past the end."""
    return returned < size and (returned > 0 or start == 0)
