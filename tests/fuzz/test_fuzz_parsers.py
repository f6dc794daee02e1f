"""Hypothesis fuzzing of the parts that read text and shapes a client or a workflow writes, in the test process.

For each: whatever comes in, only the module's own clear error comes out (``QueryError``, ``ValidationError``, a
problem returned as a value), never another exception, which the server would answer as a 500. The same inputs
go through a real server in ``test_fuzz_http.py``.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from baton.engine.expressions import document_for, evaluate, parse_path, resolve, to_text
from baton.engine.waits import parse_duration
from baton.errors import ConflictError, ValidationError
from baton.model import TaskDef, Workflow, WorkflowDef, WorkflowStatus
from baton.model.codec import decode, encode
from baton.model.http_endpoints import (
    RouteTemplate,
    endpoint_errors,
    header_problem,
    parse_template,
    path_problem,
    path_segments,
    response_errors,
    status_code,
)
from baton.model.search_query import (
    TASK_FIELDS,
    WORKFLOW_FIELDS,
    QueryError,
    free_text_terms,
    parse_query,
    parse_sort,
)
from baton.model.triggers import Trigger, route_shape, triggers_of
from baton.model.validation import validate_task_defs, validate_workflow_def
from baton.service.http_triggers import HttpTriggers
from tests.fuzz.strategies import (
    expression_text,
    expression_values,
    json_values,
    methods,
    query_text,
    request_path,
    sort_text,
    task_def_values,
    template_text,
    workflow_def_values,
)
from tests.helpers import examples

FUZZ = settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.too_slow])
MAX_JSON_DEPTH = 128

# -- the expression resolver --------------------------------------------------------------------------------------


def _run(inputs: dict[str, Any]) -> Workflow:
    return Workflow(
        workflow_id="run-1", workflow_name="fuzz", workflow_version=1, status=WorkflowStatus.RUNNING, input=inputs
    )


@FUZZ
@given(expression_text)
def test_an_expression_path_parses_to_segments_or_to_nothing(text: str) -> None:
    segments = parse_path(text)
    assert isinstance(segments, tuple)
    evaluate(text, {"workflow": {"input": {"a": [1, {"b": "c"}]}}})


@FUZZ
@given(expression_values(), json_values())
def test_resolving_any_input_against_any_run_never_raises(value: Any, run_input: Any) -> None:
    document = document_for(_run({"x": run_input, "a b": [run_input]}))
    resolved = resolve(value, document)
    encode(resolved)  # what a task's input becomes is stored as JSON
    assert isinstance(to_text(resolved), str)


@FUZZ
@given(expression_text, json_values())
def test_a_string_without_an_expression_resolves_to_itself(text: str, run_input: Any) -> None:
    literal = text.replace("${", "")
    assert resolve(literal, document_for(_run({"x": run_input}))) == literal


# -- the definition validator -------------------------------------------------------------------------------------


def _register(raw: bytes, into: type[Any]) -> None:
    """What registration does with a body before it reaches the store: decode, then the rules."""
    decoded = decode(raw, into, max_depth=MAX_JSON_DEPTH)
    if into is WorkflowDef:
        validate_workflow_def(decoded)
        triggers_of(decoded)
    else:
        validate_task_defs(decoded)


@FUZZ
@given(workflow_def_values())
def test_any_workflow_definition_is_registered_or_refused_with_a_validation_error(value: Any) -> None:
    try:
        _register(encode(value), WorkflowDef)
    except ValidationError as exc:
        assert exc.message


@FUZZ
@given(st.one_of(st.lists(task_def_values(), max_size=3), task_def_values()))
def test_any_task_definition_list_is_registered_or_refused_with_a_validation_error(value: Any) -> None:
    try:
        _register(encode(value), list[TaskDef])
    except ValidationError as exc:
        assert exc.message


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(
            [
                "path",
                "methods",
                "statusCode",
                "headers",
                "contentType",
                "canStartWorkflow",
                "requestSizeLimit",
                "requestTimeoutSeconds",
            ]
        ),
        st.one_of(json_values(6), template_text, st.sampled_from(["²", "٣٠٠", "20\n0"])),
    ),
    st.booleans(),
)
def test_http_step_inputs_give_field_errors_not_exceptions(params: dict[str, Any], may_start: bool) -> None:
    for error in endpoint_errors(params, "tasks[0].inputParameters", may_start=may_start):
        assert error.path.startswith("tasks[0].inputParameters.")
    for error in response_errors(params, "tasks[1].inputParameters"):
        assert error.path.startswith("tasks[1].inputParameters.")


_NUMERIC_TEXT = st.one_of(
    st.sampled_from(["²", "٣٠٠", "¹⁰", "\U0001d7d7", " 7 ", "1e3", "-1", "3m", "3 minutes", "٣m", "", "9" * 30]),
    st.text(alphabet=st.characters(categories=["Nd", "No", "Zs"]), max_size=5),
    st.text(max_size=8),
)
"""Text a client or an expression gives where a number is read: other scripts' digits pass ``str.isdigit``."""


@FUZZ
@given(_NUMERIC_TEXT)
def test_numbers_written_as_text_are_read_or_refused_never_raised(text: str) -> None:
    parse_duration(text)
    status_code(text)
    sub_workflow = {
        "name": "s",
        "taskReferenceName": "s",
        "type": "SUB_WORKFLOW",
        "subWorkflowParam": {"name": "child", "version": text, "priority": text},
    }
    wait = {"name": "w", "taskReferenceName": "w", "type": "WAIT", "inputParameters": {"duration": text}}
    try:
        _register(encode({"name": "numbers", "tasks": [sub_workflow, wait]}), WorkflowDef)
    except ValidationError as exc:
        assert exc.message


# -- HTTP_RESPONSE's status and headers: what is accepted can be sent -----------------------------------------------

_RFC_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FRAMING = {"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"}


def _sendable(name: str, value: Any) -> bool:
    """What an HTTP/1.1 server can write as a header line without breaking the message (RFC 9110/9112)."""
    text = to_text(value)
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return (
        _RFC_TOKEN.fullmatch(name) is not None
        and name.lower() not in _FRAMING
        and re.search(r"[\x00-\x08\x0a-\x1f\x7f]", text) is None
    )


_HEADER_NAMES = st.one_of(
    st.sampled_from(
        [
            "X-Ok",
            "X-Evil\n",
            "X-Evil\r\nX-Injected: 1",
            "Content-Length",
            "transfer-encoding",
            "Connection",
            "a b",
            "",
            "é",
        ]
    ),
    st.text(max_size=8),
)
_HEADER_VALUES = st.one_of(
    st.sampled_from(["ok", "a\r\nX-Injected: 1", "a\nb", "tab\tok", "café", "日本", "\x7f", 12, True, 1.5]),
    st.text(max_size=8),
)


@FUZZ
@given(st.dictionaries(_HEADER_NAMES, _HEADER_VALUES, max_size=3))
@example({"X-Evil\n": "ok"})  # found: '$' matched before the newline; the caller's connection was dropped
@example({"X-A": "日本"})  # found: Latin-1 cannot write it, a 500
@example({"Content-Length": "1000"})  # found: the message's framing, a broken answer
def test_headers_an_http_response_may_send_are_headers_http_can_carry(headers: dict[str, Any]) -> None:
    if header_problem(headers) is None:
        assert all(_sendable(name, value) for name, value in headers.items()), headers


@FUZZ
@example("²")  # found: str.isdigit() says yes, int() raises; a 500 at registration, a failed decision at run time
@given(st.one_of(json_values(4), st.text(max_size=6), st.sampled_from(["²", "٣٠٠", " 204 ", "1e2", "200.0"])))
def test_a_status_code_is_a_whole_number_from_200_to_599_or_none(value: Any) -> None:
    status = status_code(value)
    assert status is None or (type(status) is int and 200 <= status <= 599)


# -- the search query parser --------------------------------------------------------------------------------------


@FUZZ
@given(query_text, st.sampled_from([WORKFLOW_FIELDS, TASK_FIELDS]))
def test_any_query_parses_or_is_a_query_error(text: str, schema: Any) -> None:
    try:
        parse_query(text, schema)
    except QueryError as exc:
        assert str(exc)


@FUZZ
@given(sort_text, st.text(max_size=60))
def test_any_sort_and_free_text_parse_or_are_a_query_error(sort: str, free_text: str) -> None:
    for parse in (lambda: parse_sort(sort, WORKFLOW_FIELDS), lambda: free_text_terms(free_text)):
        try:
            parse()
        except QueryError as exc:
            assert str(exc)


# -- the trigger router -------------------------------------------------------------------------------------------


@FUZZ
@given(template_text, request_path)
def test_a_template_parses_or_says_why_and_matching_never_raises(template: str, path: str) -> None:
    parsed = parse_template(template)
    route_shape(template)
    problem = path_problem(path)
    assert problem is None or ".." in problem
    if isinstance(parsed, str):
        assert parsed
        return
    route_data = parsed.match(path_segments(path))
    assert route_data is None or all(isinstance(v, str) for v in route_data.values())


def _other_case(literal: str) -> str:
    """The literal in upper case where that is the same word ignoring case (``ß`` is not ``SS``, as in Elsa)."""
    upper = literal.upper()
    return upper if upper.lower() == literal.lower() else literal


_PARAMETER_VALUES = st.text(min_size=1, max_size=8).filter(lambda text: "/" not in text)


@FUZZ
@given(
    st.lists(st.one_of(st.sampled_from(["orders", "A", "ß", "İx"]), st.just("{p}")), min_size=1, max_size=4),
    st.lists(_PARAMETER_VALUES, min_size=4, max_size=4),
)
def test_a_path_written_from_a_template_matches_it_with_its_values(segments: list[str], values: list[str]) -> None:
    named = [f"{{p{index}}}" if part == "{p}" else part for index, part in enumerate(segments)]
    template = parse_template("/".join(named))
    assert isinstance(template, RouteTemplate)
    path = [values[index] if part == "{p}" else _other_case(part) for index, part in enumerate(segments)]
    expected = {f"p{index}": values[index] for index, part in enumerate(segments) if part == "{p}"}
    assert template.match(path) == expected, (named, path)


@FUZZ
@given(st.lists(st.tuples(template_text, methods), max_size=5), request_path, methods)
def test_choosing_among_triggers_picks_one_or_is_a_conflict(
    table: list[tuple[str, str]], path: str, method: str
) -> None:
    parsed = []
    for index, (template, verb) in enumerate(table):
        found = parse_template(template)
        if isinstance(found, RouteTemplate):
            parsed.append((found, Trigger("http", template, verb.upper(), f"wf{index}", 1, "hook")))
    try:
        HttpTriggers._match_triggers(parsed, path_segments(path), method.upper())
    except ConflictError as exc:
        assert exc.message
