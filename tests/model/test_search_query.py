"""The search query language: text to AST, and errors that say where the text is wrong."""

from __future__ import annotations

import pytest

from baton.model.search_query import (
    TASK_FIELDS,
    WORKFLOW_FIELDS,
    And,
    Comparison,
    Operator,
    Or,
    QueryError,
    SortKey,
    free_text_terms,
    parse_query,
    parse_sort,
    parse_time,
)


def parse(text: str) -> object:
    return parse_query(text, WORKFLOW_FIELDS)


@pytest.mark.parametrize("text", [None, "", "   ", "*", " * "])
def test_no_query(text: str | None) -> None:
    assert parse_query(text, WORKFLOW_FIELDS) is None


def test_comparisons() -> None:
    assert parse("workflowType IN (a,b)") == Comparison("workflowType", Operator.IN, ("a", "b"))
    assert parse("status in ( running , FAILED )") == Comparison("status", Operator.IN, ("RUNNING", "FAILED"))
    assert parse("correlationId = x") == Comparison("correlationId", Operator.EQ, ("x",))
    assert parse("correlationId=x") == Comparison("correlationId", Operator.EQ, ("x",))
    assert parse("startTime > 1700000000000") == Comparison("startTime", Operator.GT, (1_700_000_000_000,))
    assert parse("endTime<=5") == Comparison("endTime", Operator.LE, (5,))
    assert parse("updateTime >= 1 ") == Comparison("updateTime", Operator.GE, (1,))
    assert parse("startTime < 2") == Comparison("startTime", Operator.LT, (2,))
    assert parse("version != 2") == Comparison("version", Operator.NE, (2,))
    assert parse("workflowType NOT IN (a)") == Comparison("workflowType", Operator.NOT_IN, ("a",))
    assert parse("workflowId = 'it''s a \"run\"'") == Comparison("workflowId", Operator.EQ, ('it\'s a "run"',))
    assert parse('correlationId = "a b"') == Comparison("correlationId", Operator.EQ, ("a b",))


def test_iso_times_are_epoch_milliseconds() -> None:
    assert parse("startTime > 2024-05-01T10:00:00Z") == Comparison("startTime", Operator.GT, (1_714_557_600_000,))
    assert parse("startTime > '2024-05-01T12:00:00+02:00'") == Comparison(
        "startTime", Operator.GT, (1_714_557_600_000,)
    )
    assert parse_time("2024-05-01T10:00:00") == 1_714_557_600_000
    assert parse_time("1970-01-01T00:00:00.250Z") == 250
    assert parse_time("yesterday") is None


def test_and_binds_tighter_than_or_and_parentheses_group() -> None:
    a = Comparison("workflowType", Operator.EQ, ("a",))
    b = Comparison("status", Operator.EQ, ("RUNNING",))
    c = Comparison("correlationId", Operator.EQ, ("c",))
    assert parse("workflowType = a AND status = RUNNING OR correlationId = c") == Or((And((a, b)), c))
    assert parse("workflowType = a and (status = RUNNING or correlationId = c)") == And((a, Or((b, c))))
    assert parse("((workflowType = a))") == a


def test_task_fields() -> None:
    assert parse_query("taskType = HTTP AND status = IN_PROGRESS", TASK_FIELDS) == And(
        (
            Comparison("taskType", Operator.EQ, ("HTTP",)),
            Comparison("status", Operator.EQ, ("IN_PROGRESS",)),
        )
    )
    with pytest.raises(QueryError, match="'PAUSED' at 9 is not a status"):
        parse_query("status = PAUSED", TASK_FIELDS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("status RUNNING", "expected IN or = after 'status' at 7"),
        ("startTime 5", r"expected =, <, >, <=, >= or IN after 'startTime' at 10"),
        ("colour = red", "unknown field 'colour' at 0"),
        ("status = RUNNING AND colour = red", "unknown field 'colour' at 21"),
        ("status = NAPPING", "'NAPPING' at 9 is not a status"),
        ("workflowType > a", "'workflowType' cannot be compared with > (at 13)"),
        ("version = two", "'version' needs a whole number, got 'two' at 10"),
        ("startTime > soon", "'startTime' needs epoch milliseconds or an ISO-8601 date-time, got 'soon' at 12"),
        ("status IN RUNNING", "expected '(' after IN at 10"),
        ("status IN (RUNNING FAILED)", "expected ',' or ')' in the list of 'status', got 'FAILED' at 19"),
        ("status IN (RUNNING,", "expected a value for 'status', got the end at 19"),
        ("status = ", "expected a value for 'status', got the end at 9"),
        ("status = RUNNING status = FAILED", "expected AND, OR or the end, got 'status' at 17"),
        ("(status = RUNNING", "expected ')' to close the '(' at 0, got the end"),
        ("= RUNNING", "expected a field name, got '=' at 0"),
        ("status = RUNNING;", "unexpected character ';' at 16"),
        ("workflowId = 'open", "unterminated quoted value at 13"),
        ("status NOT = RUNNING", "expected IN or = after 'status' at 7"),
    ],
)
def test_errors_say_where(text: str, message: str) -> None:
    with pytest.raises(QueryError) as raised:
        parse(text)
    assert str(raised.value).startswith(message), str(raised.value)


def test_a_huge_query_is_refused() -> None:
    with pytest.raises(QueryError, match="longer than"):
        parse("workflowType IN (" + ",".join(["a"] * 3000) + ")")


def test_sort() -> None:
    assert parse_sort(None, WORKFLOW_FIELDS) == ()
    assert parse_sort("startTime:DESC", WORKFLOW_FIELDS) == (SortKey("startTime", True),)
    assert parse_sort("workflowType:asc, startTime", WORKFLOW_FIELDS) == (
        SortKey("workflowType", False),
        SortKey("startTime", False),
    )
    assert parse_sort("status|endTime:desc", WORKFLOW_FIELDS) == (SortKey("status", False), SortKey("endTime", True))
    with pytest.raises(QueryError, match="unknown field 'colour'"):
        parse_sort("colour:DESC", WORKFLOW_FIELDS)
    with pytest.raises(QueryError, match="ASC or DESC"):
        parse_sort("startTime:UP", WORKFLOW_FIELDS)


def test_free_text_terms() -> None:
    assert free_text_terms(None) == ()
    assert free_text_terms("*") == ()
    assert free_text_terms("  ") == ()
    assert free_text_terms(" ada  lovelace ") == ("ada", "lovelace")


def test_parentheses_nest_at_most_max_query_nesting_levels() -> None:
    from baton.model.search_query import MAX_QUERY_NESTING

    at_bound = "(" * MAX_QUERY_NESTING + "status = FAILED" + ")" * MAX_QUERY_NESTING
    assert parse_query(at_bound, WORKFLOW_FIELDS) == parse_query("status = FAILED", WORKFLOW_FIELDS)
    over = "(" * 500 + "status = FAILED" + ")" * 500
    with pytest.raises(QueryError, match=f"nests parentheses deeper than {MAX_QUERY_NESTING} levels at 32"):
        parse_query(over, WORKFLOW_FIELDS)
