"""Hypothesis strategies the fuzz tests share: JSON values, expression text, definitions, queries and paths.

Each strategy leans towards what the code under test reads (the characters of ``${...}``, the fields of a
definition, the words of a query, the parts of a route template), so that most examples reach past the first
check, and mixes in arbitrary text so that the rest do not.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from baton.model.definitions import UNSUPPORTED_TASK_TYPES, TaskType
from baton.model.http_endpoints import ENDPOINT_METHODS
from baton.model.search_query import TASK_FIELDS, WORKFLOW_FIELDS


def words(text: str) -> list[str]:
    """The space-separated words of ``text``: a long list of samples, written on a few lines."""
    return text.split()


# -- JSON ---------------------------------------------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any JSON value: scalars, lists and objects nested in each other."""
    return st.recursive(
        scalars,
        lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)),
        max_leaves=max_leaves,
    )


# -- expressions --------------------------------------------------------------------------------------------------

_PATH_PIECES = st.sampled_from(
    [
        *words("workflow input output variables step x . .. [ ] [0] [-1] [99] length() * $ $. a 0 ' \" ${ } $${ { \\"),
        *["['a b']", '["x"]', " ", "[ 1 ]", "['']"],
    ]
)
expression_text = st.one_of(
    st.lists(st.one_of(_PATH_PIECES, st.text(max_size=4)), max_size=12).map("".join),
    st.text(max_size=30),
)
"""Text shaped like ``${...}`` templates and their paths, broken in many ways."""


def expression_values() -> st.SearchStrategy[Any]:
    """Task inputs: JSON values whose strings are mostly expression text."""
    return st.recursive(
        st.one_of(scalars, expression_text),
        lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
        max_leaves=10,
    )


# -- definitions --------------------------------------------------------------------------------------------------

TASK_TYPES = [*(t.value for t in TaskType), *sorted(UNSUPPORTED_TASK_TYPES)[:3], "NOT_A_TYPE"]
_PARAMETER_KEYS = words(
    "path methods canStartWorkflow authorize requestSizeLimit requestTimeoutSeconds statusCode headers contentType "
    "body evaluatorType expression queryExpression http_request startWorkflow terminationStatus keepLastN "
    "forkTaskName forkTaskInputs items duration until event"
)
_NUMBERS = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from([0, 1, -1, 2**31 - 1, 2**31, 2**63 - 1, -(2**63)]),
)
WEIRD_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", " ", "²", "٣٠٠", "1e3", "200", " 200 ", "${x}", "a\r\nb", "\x00", "x" * 300, "日本"]),
)
"""Names and values a careless or hostile client writes."""
_FIELD_VALUES = st.one_of(_NUMBERS, WEIRD_TEXT, st.booleans(), st.none(), json_values(6))
"""A value of any type: where it is not the field's type, decoding refuses it (a 400 naming the field)."""
_INTS = st.integers(min_value=-(2**63), max_value=2**63 - 1) | _NUMBERS
_OPTIONAL_TEXT = st.none() | WEIRD_TEXT
_INT_OR_TEXT = st.none() | _NUMBERS | WEIRD_TEXT


def _parameters() -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.one_of(st.sampled_from(_PARAMETER_KEYS), st.text(max_size=6)), _FIELD_VALUES, max_size=5)


def task_def_values() -> st.SearchStrategy[Any]:
    """A task definition's JSON: its fields of their types with any values, now and then not even that."""
    typed = _typed_task_def()
    return st.one_of(typed, typed, typed, _FIELD_VALUES)


def _typed_task_def() -> st.SearchStrategy[dict[str, Any]]:
    numbers = dict.fromkeys(
        words(
            "retryCount retryDelaySeconds timeoutSeconds responseTimeoutSeconds backoffScaleFactor pollTimeoutSeconds "
            "totalTimeoutSeconds concurrentExecLimit rateLimitPerFrequency rateLimitFrequencyInSeconds"
        ),
        _INTS,
    )
    schema = st.fixed_dictionaries(
        {"name": WEIRD_TEXT, "type": st.sampled_from(["JSON", "AVRO", ""])},
        optional={"data": _FIELD_VALUES, "version": _INTS},
    )
    return st.fixed_dictionaries(
        {"name": WEIRD_TEXT},
        optional={
            **numbers,
            "retryLogic": st.sampled_from(["FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF"]),
            "inputSchema": schema,
            "enforceSchema": st.booleans(),
            "inputTemplate": st.dictionaries(st.text(max_size=4), _FIELD_VALUES, max_size=3),
        },
    )


def _task(children: st.SearchStrategy[list[Any]]) -> st.SearchStrategy[Any]:
    # Deferred: Hypothesis writes a strategy's repr at times (st.recursive does), and this one's is tens of kB.
    return st.deferred(lambda: _task_fields(children))


def _task_fields(children: st.SearchStrategy[list[Any]]) -> st.SearchStrategy[Any]:
    sub_workflow = st.fixed_dictionaries(
        {}, optional={"name": _OPTIONAL_TEXT, "version": _INT_OR_TEXT, "priority": _INT_OR_TEXT}
    )
    return st.fixed_dictionaries(
        {"name": WEIRD_TEXT, "taskReferenceName": WEIRD_TEXT, "type": st.sampled_from(TASK_TYPES)},
        optional={
            "inputParameters": _parameters(),
            "decisionCases": st.dictionaries(st.text(max_size=4), children, max_size=2),
            "defaultCase": children,
            "forkTasks": st.lists(children, max_size=2),
            "loopOver": children,
            "joinOn": st.lists(WEIRD_TEXT, max_size=2),
            "subWorkflowParam": sub_workflow,
            "taskDefinition": _typed_task_def(),
            "startDelay": _INTS,
            "retryCount": _INTS,
            **dict.fromkeys(
                words("evaluatorType expression dynamicTaskNameParam sink loopCondition caseValueParam"),
                _OPTIONAL_TEXT,
            ),
        },
    )


def workflow_def_values() -> st.SearchStrategy[Any]:
    """A workflow definition's JSON: its fields of their types with any values, now and then not even that."""
    tasks = st.recursive(
        st.lists(_task(st.just([])), max_size=3), lambda inner: st.lists(_task(inner), max_size=3), max_leaves=6
    )
    typed = st.fixed_dictionaries(
        {"name": WEIRD_TEXT, "tasks": tasks},
        optional={
            "version": _INTS,
            "timeoutSeconds": _INTS,
            "schemaVersion": _INTS,
            "outputParameters": st.dictionaries(st.text(max_size=4), _FIELD_VALUES, max_size=3),
            "case": st.fixed_dictionaries({}, optional={"entityType": _OPTIONAL_TEXT, "queue": _OPTIONAL_TEXT}),
            "failureWorkflow": _OPTIONAL_TEXT,
        },
    )
    return st.one_of(typed, typed, typed, _FIELD_VALUES)


# -- search queries -----------------------------------------------------------------------------------------------

_QUERY_WORDS = [
    *sorted({*WORKFLOW_FIELDS.fields, *TASK_FIELDS.fields}),
    *words("AND OR and IN NOT ( ) , = != > >= < <= ' \" '' RUNNING FAILED COMPLETED * 1700000000000 -1"),
    *["not in", "99999999999999999999", "2024-05-01T10:00:00Z", "2024-13-45", "9999-12-31T23:59:59+14:00"],
    *["0001-01-01T00:00:00", "a b", "'it''s'", "x" * 40],
]
query_text = st.one_of(
    st.lists(st.one_of(st.sampled_from(_QUERY_WORDS), st.text(max_size=3)), max_size=14).map(" ".join),
    st.lists(st.sampled_from(_QUERY_WORDS), max_size=14).map("".join),
    st.text(max_size=40),
)
sort_text = st.lists(
    st.one_of(st.sampled_from([*_QUERY_WORDS, ":", ":ASC", ":desc", ":up", "|", ";"]), st.text(max_size=4)),
    max_size=6,
).map("".join)


# -- route templates and request paths ----------------------------------------------------------------------------

_SEGMENTS = st.one_of(
    st.sampled_from(
        [
            *words("orders {id} {*rest} {Id} {} {*} {1x} {a-b} .. . %2e%2e %2f a%00b ? # { } İ ß Σ ǅ"),
            *["\x00", "\n", "{id}\n", " ", ""],
        ]
    ),
    st.text(max_size=6),
)
template_text = st.lists(_SEGMENTS, max_size=6).map("/".join)
request_path = st.lists(_SEGMENTS, max_size=6).map("/".join)
methods = st.one_of(st.sampled_from(ENDPOINT_METHODS), st.text(max_size=7))
