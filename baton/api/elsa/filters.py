"""The workflow-instance list's filters, paging and order (Elsa's names) as a search of runs.

``definitionId``/``definitionIds``/``name`` are the workflow's name (a run's name is its
workflow's), ``version`` its version, ``correlationId`` itself; ``status``/``statuses`` and
``subStatus``/``subStatuses`` select run statuses (``states.py``); ``searchTerm`` is Conductor's
``freeText`` (words of the run's id, correlation id or input); ``timestampFilters`` compare
``CreatedAt``, ``UpdatedAt`` or ``FinishedAt``; ``isSystem: true`` matches nothing (no run is a
system one). Names of statuses and orders are read case-insensitively, as Elsa reads its enums.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from baton.api.elsa.states import SUB_STATUSES
from baton.api.params import parse_int
from baton.errors import FieldError, ValidationError
from baton.model import WorkflowStatus
from baton.model.search_query import And, Comparison, Operator, Query, SortKey, parse_time

MAX_PAGE_SIZE = 1000
"""The largest page, and what a list without ``pageSize`` holds at most."""
MAX_LISTED = 1000
"""Most values a list filter (``definitionIds``, ``statuses``) may hold."""
SCAN_CAP = 1000
"""Most runs (the newest matching the other filters) a filter decided per run looks at."""

_STATUS_RUNS = {
    "running": (WorkflowStatus.RUNNING, WorkflowStatus.PAUSED),
    "finished": (WorkflowStatus.COMPLETED, WorkflowStatus.TERMINATED, WorkflowStatus.FAILED, WorkflowStatus.TIMED_OUT),
}
_SUB_STATUS_RUNS: dict[str, tuple[WorkflowStatus, ...]] = {
    "pending": (),
    "executing": (WorkflowStatus.RUNNING,),
    "suspended": (WorkflowStatus.RUNNING, WorkflowStatus.PAUSED),
    "finished": (WorkflowStatus.COMPLETED,),
    "cancelled": (WorkflowStatus.TERMINATED,),
    "faulted": (WorkflowStatus.FAILED, WorkflowStatus.TIMED_OUT),
}
_SUB_STATUS_NAMES = {name.lower(): name for name in SUB_STATUSES}
_ORDER_FIELDS = {"created": "startTime", "updatedat": "updateTime", "finished": "endTime", "name": "workflowType"}
_TIME_COLUMNS = {"createdat": "startTime", "updatedat": "updateTime", "finishedat": "endTime"}
_TIME_OPERATORS = {
    "is": Operator.EQ,
    "isnot": Operator.NE,
    "greaterthan": Operator.GT,
    "greaterthanorequal": Operator.GE,
    "lessthan": Operator.LT,
    "lessthanorequal": Operator.LE,
}


@dataclass(frozen=True, kw_only=True)
class InstanceFilter:
    query: Query | None
    search_term: str | None
    sort: tuple[SortKey, ...]
    start: int
    size: int
    sub_statuses: frozenset[str] | None
    """Sub-statuses told apart per run (``Executing`` or ``Suspended`` without the other), else None."""
    has_incidents: bool | None
    nothing: bool
    """No run can match (``isSystem: true``, or statuses that exclude each other)."""

    @property
    def per_run(self) -> bool:
        return self.sub_statuses is not None or self.has_incidents is not None


def running_of(name: str, version: int | None) -> Query:
    """The runs of a workflow (of one version) that have not ended."""
    parts: list[Query] = [
        Comparison("workflowType", Operator.EQ, (name,)),
        Comparison("status", Operator.IN, (WorkflowStatus.RUNNING.value, WorkflowStatus.PAUSED.value)),
    ]
    if version is not None:
        parts.append(Comparison("version", Operator.EQ, (version,)))
    return And(tuple(parts))


def filter_from(raw: Mapping[str, Any], *, from_query: bool) -> InstanceFilter:
    """The list request's fields (a POST body, or the GET's query texts) as a search; a bad one is a 400."""
    parts: list[Query] = []
    names = _texts(raw, "definitionIds") + [v for v in (_text(raw, "definitionId"), _text(raw, "name")) if v]
    if names:
        parts.append(Comparison("workflowType", Operator.IN, tuple(dict.fromkeys(names))))
    correlation_id = _text(raw, "correlationId")
    if correlation_id is not None:
        parts.append(Comparison("correlationId", Operator.EQ, (correlation_id,)))
    version = _int(raw, "version", minimum=1)
    if version is not None:
        parts.append(Comparison("version", Operator.EQ, (version,)))
    statuses = _choices(raw, "status", "statuses", _STATUS_RUNS)
    sub_statuses = _choices(raw, "subStatus", "subStatuses", _SUB_STATUS_RUNS)
    allowed = set(WorkflowStatus)
    for chosen, table in ((statuses, _STATUS_RUNS), (sub_statuses, _SUB_STATUS_RUNS)):
        if chosen is not None:
            allowed &= {status for name in chosen for status in table[name]}
    told_apart = None
    running = WorkflowStatus.RUNNING in allowed
    if sub_statuses is not None and running and ("executing" in sub_statuses) != ("suspended" in sub_statuses):
        told_apart = frozenset(_SUB_STATUS_NAMES[name] for name in sub_statuses)
    if allowed != set(WorkflowStatus):
        ordered = tuple(status.value for status in WorkflowStatus if status in allowed)
        parts.append(Comparison("status", Operator.IN, ordered or ("",)))
    parts.extend(_timestamp_filters(raw.get("timestampFilters")))
    is_system = _bool(raw, "isSystem", from_query)
    page = _int(raw, "page", minimum=0)
    page_size = _int(raw, "pageSize", minimum=1, maximum=MAX_PAGE_SIZE)
    size = MAX_PAGE_SIZE if page_size is None else page_size
    start = 0 if page is None or page_size is None else page * page_size
    return InstanceFilter(
        query=None if not parts else parts[0] if len(parts) == 1 else And(tuple(parts)),
        search_term=_text(raw, "searchTerm"),
        sort=_sort(raw),
        start=start,
        size=size,
        sub_statuses=told_apart,
        has_incidents=_bool(raw, "hasIncidents", from_query),
        nothing=not allowed or is_system is True,
    )


def _text(raw: Mapping[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError(errors=[FieldError(name, "must be a string")])
    return value


def _texts(raw: Mapping[str, Any], name: str) -> list[str]:
    value = raw.get(name)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValidationError(errors=[FieldError(name, "must be a list of strings")])
    if len(value) > MAX_LISTED:
        raise ValidationError(errors=[FieldError(name, f"must list at most {MAX_LISTED} values")])
    return [item for item in value if item]


def _int(raw: Mapping[str, Any], name: str, *, minimum: int, maximum: int | None = None) -> int | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return parse_int(value, name, minimum=minimum, maximum=maximum)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(errors=[FieldError(name, "must be a whole number")])
    return parse_int(str(value), name, minimum=minimum, maximum=maximum)


def _bool(raw: Mapping[str, Any], name: str, from_query: bool) -> bool | None:
    value = raw.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if from_query and isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValidationError(errors=[FieldError(name, "must be true or false")])


def _choices(
    raw: Mapping[str, Any], one: str, many: str, table: Mapping[str, tuple[WorkflowStatus, ...]]
) -> set[str] | None:
    given = _texts(raw, many)
    single = _text(raw, one)
    if single is not None:
        given.append(single)
    if not given:
        return None
    chosen: set[str] = set()
    for value in given:
        key = value.lower()
        if key not in table:
            field = one if value == single else many
            known = ", ".join(name.capitalize() for name in table)
            raise ValidationError(errors=[FieldError(field, f"'{value[:40]}' is not one of {known}")])
        chosen.add(key)
    return chosen


def _sort(raw: Mapping[str, Any]) -> tuple[SortKey, ...]:
    order_by = _text(raw, "orderBy") or "Created"
    field = _ORDER_FIELDS.get(order_by.lower())
    if field is None:
        raise ValidationError(errors=[FieldError("orderBy", "must be one of Created, UpdatedAt, Finished, Name")])
    direction = _text(raw, "orderDirection")
    if direction is None:
        descending = field != "workflowType"
    elif direction.lower() in ("ascending", "descending"):
        descending = direction.lower() == "descending"
    else:
        raise ValidationError(errors=[FieldError("orderDirection", "must be Ascending or Descending")])
    return (SortKey(field, descending),)


def _timestamp_filters(raw: Any) -> list[Query]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ValidationError(errors=[FieldError("timestampFilters", "must be a list")])
    found: list[Query] = []
    for index, item in enumerate(raw):
        at = f"timestampFilters[{index}]"
        if not isinstance(item, dict):
            raise ValidationError(errors=[FieldError(at, "must be {column, operator, timestamp}")])
        column = _TIME_COLUMNS.get(str(item.get("column", "")).lower())
        if column is None:
            raise ValidationError(errors=[FieldError(f"{at}.column", "must be CreatedAt, UpdatedAt or FinishedAt")])
        operator = _TIME_OPERATORS.get(str(item.get("operator", "")).lower())
        if operator is None:
            known = "Is, IsNot, GreaterThan, GreaterThanOrEqual, LessThan, LessThanOrEqual"
            raise ValidationError(errors=[FieldError(f"{at}.operator", f"must be one of {known}")])
        moment = item.get("timestamp")
        millis = parse_time(moment) if isinstance(moment, str) else None
        if millis is None:
            raise ValidationError(errors=[FieldError(f"{at}.timestamp", "must be an ISO-8601 date-time")])
        found.append(Comparison(column, operator, (millis,)))
    return found
