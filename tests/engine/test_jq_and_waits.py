"""JSON_JQ_TRANSFORM queries and WAIT's duration and until parsing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from baton.engine.jq_transform import transform
from baton.engine.waits import parse_duration, parse_until


def test_jq_result_and_result_list() -> None:
    data = {"queryExpression": ".items[] | .n * 2", "items": [{"n": 1}, {"n": 2}]}
    result = transform(data["queryExpression"], data)
    assert result.ok
    assert result.result == 2
    assert result.result_list == [2, 4]


def test_jq_empty_result() -> None:
    result = transform("empty", {})
    assert result.ok
    assert result.result is None
    assert result.result_list == []


def test_jq_errors_are_values() -> None:
    compile_error = transform(".a[", {})
    assert compile_error.error is not None
    assert compile_error.error.startswith("invalid jq query: jq: error: syntax error")
    runtime = transform(".a + 1", {"a": "s"})
    assert runtime.error == 'jq error: string ("s") and number (1) cannot be added'
    assert transform("", {}).error == "'queryExpression' must be a non-empty string"
    assert transform(None, {}).error == "'queryExpression' must be a non-empty string"


def test_jq_bounds_the_number_of_results() -> None:
    result = transform("repeat(1)", None, max_results=100)
    assert result.error == "jq query produced more than 100 results"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h 2m", 3720),
        ("2 days", 172800),
        ("1d2h3m4s", 93784),
        ("90", 90),
        (45, 45),
        ("10 seconds", 10),
        ("3 mins, 1 sec", 181),
        ("0s", 0),
    ],
)
def test_durations(text: object, seconds: int) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 parsecs", "1h and 2m", "-5s", "1.5h", True, None, [1]])
def test_bad_durations(text: object) -> None:
    assert parse_duration(text) is None


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-22 10:00", _ms(2026, 11, 22, 10, 0)),
        ("2026-11-22", _ms(2026, 11, 22)),
        ("2026-11-22T10:00:00Z", _ms(2026, 11, 22, 10, 0)),
        ("2026-11-22T10:00:00+02:00", _ms(2026, 11, 22, 8, 0)),
        ("2026-11-22 10:00 UTC", _ms(2026, 11, 22, 10, 0)),
        ("2026-11-22 10:00 GMT", _ms(2026, 11, 22, 10, 0)),
        ("2026-11-22 10:00 +01:00", _ms(2026, 11, 22, 9, 0)),
        ("2026-11-22 10:00:30", _ms(2026, 11, 22, 10, 0, 30)),
    ],
)
def test_until(text: str, expected: int) -> None:
    assert parse_until(text) == expected


@pytest.mark.parametrize("text", ["", "tomorrow", "2026-13-01", "2026-11-22 10:00 Nowhere/Land", 12])
def test_bad_until(text: object) -> None:
    assert parse_until(text) is None


def test_until_with_an_iana_zone() -> None:
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo("Europe/Paris")
    except Exception:
        pytest.skip("no time zone database here")
    assert parse_until("2026-11-22 10:00 Europe/Paris") == _ms(2026, 11, 22, 9, 0)
