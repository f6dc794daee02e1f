"""The fuzzed inputs of ``test_fuzz_parsers.py`` through a real ``baton serve``, SQLite and PostgreSQL: never a 5xx.

Fewer examples than in-process (each is a request or a run). The file has a server of its own
(``file_server``): a fuzzed definition may register an HTTP trigger on any path, which on the shared server
would start its runs instead of another file's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.ballerine.support import register_kyb
from tests.conftest import ServerProcess
from tests.fuzz.raw_http import raw_request
from tests.fuzz.strategies import (
    WEIRD_TEXT,
    expression_text,
    expression_values,
    json_values,
    methods,
    query_text,
    request_path,
    sort_text,
    task_def_values,
    words,
    workflow_def_values,
)
from tests.helpers import examples, register, unique, wait_for

pytestmark = [pytest.mark.timeout(300), pytest.mark.file_server]

THROUGH_HTTP = settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FINISHED = {"COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"}


@pytest.fixture
def client(file_server: ServerProcess) -> Iterator[httpx.Client]:
    with file_server.client(timeout=30.0) as http:
        yield http


@pytest.fixture(autouse=True)
def no_traceback_in_the_log(file_server: ServerProcess) -> Iterator[None]:
    """What went wrong off the request's path (a decision made later, an executor) shows only in the log."""
    before = len(file_server.log())
    yield
    added = file_server.log()[before:]
    assert "Traceback" not in added, added[-3000:]


def assert_not_5xx(response: httpx.Response) -> None:
    request = response.request
    assert response.status_code < 500, f"{request.method} {request.url}: {response.status_code} {response.text[:500]}"


def assert_refusal_names_something(response: httpx.Response) -> None:
    if 400 <= response.status_code < 500 and response.content:
        body = response.json()
        assert body.get("message"), body


# -- definitions ---------------------------------------------------------------------------------------------------


@THROUGH_HTTP
@given(workflow_def_values())
def test_any_workflow_definition_is_stored_or_refused_with_a_4xx(client: httpx.Client, value: Any) -> None:
    if isinstance(value, dict):
        value = {**value, "name": unique("fuzz_def")}  # a name of its own, to look up afterwards
    response = client.post("/api/metadata/workflow", json=value, params={"overwrite": "true"})
    assert_not_5xx(response)
    assert_refusal_names_something(response)
    if response.status_code == 400 and isinstance(value, dict):
        assert client.get(f"/api/metadata/workflow/{value['name']}").status_code == 404, "a refused definition"


@THROUGH_HTTP
@given(st.one_of(st.lists(task_def_values(), max_size=3), task_def_values()))
def test_any_task_definition_is_stored_or_refused_with_a_4xx(client: httpx.Client, value: Any) -> None:
    response = client.post("/api/metadata/taskdefs", json=value)
    assert_not_5xx(response)
    assert_refusal_names_something(response)


# -- expressions in a run's inputs ---------------------------------------------------------------------------------


@THROUGH_HTTP
@given(expression_values(), json_values(), expression_text)
def test_a_run_resolves_any_expression_in_its_inputs_and_ends(
    client: httpx.Client, inputs: Any, run_input: Any, output: str
) -> None:
    noop = {"name": "fuzz", "taskReferenceName": "fuzz", "type": "NOOP", "inputParameters": {"given": inputs}}
    definition = {"name": "fuzz_expressions", "version": 1, "tasks": [noop], "outputParameters": {"out": output}}
    response = client.post(
        "/api/workflow", json={"name": "fuzz_expressions", "workflowDef": definition, "input": {"x": run_input}}
    )
    assert_not_5xx(response)
    if response.status_code == 200:
        run = wait_for(client, response.text, lambda run: run["status"] in FINISHED)
        assert run["status"] == "COMPLETED", run.get("reasonForIncompletion")


_DURATIONS = st.one_of(WEIRD_TEXT, st.sampled_from(["²", "٣s", "1s", "0", "-1", "1 minute, 2s", "99999999999999"]))


@THROUGH_HTTP
@given(_DURATIONS, st.one_of(_DURATIONS, json_values(4)))
@example("0", "200")  # a run that may have ended before it is read
def test_a_wait_or_a_response_given_any_value_by_an_expression_does_not_break_the_run(
    client: httpx.Client, duration: str, status: Any
) -> None:
    """Values a run computes reach the rules only when its step runs: they fail the step, never the server."""
    wait = {
        "name": "w",
        "taskReferenceName": "w",
        "type": "WAIT",
        "inputParameters": {"duration": "${workflow.input.d}"},
    }
    reply = {
        "name": "r",
        "taskReferenceName": "r",
        "type": "HTTP_RESPONSE",
        "inputParameters": {"statusCode": "${workflow.input.s}", "headers": {"X-S": "${workflow.input.s}"}},
    }
    definition = {"name": "fuzz_run_values", "version": 1, "tasks": [reply, wait]}
    payload = {"name": "fuzz_run_values", "workflowDef": definition, "input": {"d": duration, "s": status}}
    response = client.post("/api/workflow", json=payload)
    assert_not_5xx(response)
    assert_refusal_names_something(response)  # a NUL in the input is refused at the door
    if response.status_code == 200:
        run = client.get(f"/api/workflow/{response.text}")
        # COMPLETED too: a WAIT of "0" (or a duration already past) may have ended before the run is read.
        assert run.status_code == 200 and run.json()["status"] in ("RUNNING", "FAILED", "COMPLETED"), run.text
        client.delete(f"/api/workflow/{response.text}", params={"reason": "fuzz"})


# -- search --------------------------------------------------------------------------------------------------------


@THROUGH_HTTP
@given(query_text, sort_text, st.text(max_size=40), st.sampled_from(["/api/workflow/search", "/api/tasks/search"]))
def test_any_search_answers_or_is_a_4xx(client: httpx.Client, query: str, sort: str, free: str, route: str) -> None:
    response = client.get(route, params={"query": query, "sort": sort, "freeText": free, "size": 5})
    assert_not_5xx(response)
    assert_refusal_names_something(response)


# -- the trigger router --------------------------------------------------------------------------------------------


@pytest.fixture
def triggers(client: httpx.Client) -> str:
    """A few trigger workflows under one prefix, each answering with its route data."""
    prefix = unique("fuzzroutes")
    for index, path in enumerate(["orders/{id}", "orders/{id}/items/{item}", "files/{*rest}", "Straße/{x}"]):
        hook = {
            "name": "hook",
            "taskReferenceName": "hook",
            "type": "HTTP_ENDPOINT",
            "inputParameters": {"path": f"{prefix}/{path}", "methods": ["GET", "POST"], "canStartWorkflow": True},
        }
        reply = {
            "name": "reply",
            "taskReferenceName": "reply",
            "type": "HTTP_RESPONSE",
            "inputParameters": {"body": "${hook.output.routeData}"},
        }
        register(client, {"name": f"{prefix}_{index}", "version": 1, "tasks": [hook, reply]})
    return prefix


@THROUGH_HTTP
@given(request_path, methods, st.booleans())
def test_any_path_and_method_under_the_triggers_is_answered_without_a_5xx(
    client: httpx.Client, triggers: str, path: str, method: str, under_prefix: bool
) -> None:
    encoded = quote(path, safe="/{}*")
    url = f"/workflows/{triggers}/{encoded}" if under_prefix else f"/workflows/{encoded}"
    verb = method.upper() if method.isascii() and method.isalpha() and method else "GET"
    try:
        response = client.request(verb, url, content=b"{}", headers={"content-type": "application/json"})
    except httpx.InvalidURL:
        return  # a URL httpx will not send; the hostile tests send such bytes on raw sockets
    assert_not_5xx(response)


_RAW_PIECES = st.sampled_from(
    [
        *[b"/", b"..", b".", b"%2e", b"%2E%2e", b"%2f", b"%2F", b"%00", b"%0d%0a", b"%ff", b"%", b"%e6%97%a5", b"{id}"],
        *[b"orders", b"files", b"\xc3\xa9", b"?", b"?workflowInstanceId=", b"&correlationId=", b"#", b";", b"~", b"+"],
    ]
)
_HEADER_IDS = st.one_of(st.none(), WEIRD_TEXT.filter(lambda text: not any(c in text for c in "\r\n\x00")))


@THROUGH_HTTP
@given(st.lists(st.one_of(_RAW_PIECES, st.binary(max_size=3)), max_size=10), _HEADER_IDS, _HEADER_IDS)
@example(pieces=[b"orders/1?workflowInstanceId=", b"%e6%97%a5"], run_id=None, correlation=None)  # found: a bare 500
def test_any_raw_request_target_and_id_headers_under_the_triggers_get_no_5xx(
    file_server: ServerProcess, triggers: str, pieces: list[bytes], run_id: str | None, correlation: str | None
) -> None:
    """Bytes as they come off the wire: no client resolved the dots, encoded the rest or checked the ids."""
    target = b"".join(pieces).translate(None, b" \r\n\t\x00")
    headers = {"X-Workflow-Instance-ID": run_id, "X-Correlation-ID": correlation}
    answer = raw_request(
        file_server,
        "POST",
        f"/workflows/{triggers}/".encode() + target,
        b"{}",
        **{"content-type": "application/json"},
        **{name: value for name, value in headers.items() if value is not None},
    )
    assert answer.status < 500, answer.raw[:600]


# -- Elsa's and Ballerine's start bodies -----------------------------------------------------------------------------


@pytest.fixture
def starts(client: httpx.Client) -> dict[str, str]:
    """A definition each surface can start (a NOOP; Ballerine's KYB example), by the URL that starts it."""
    name = unique("fuzz_elsa")
    register(client, {"name": name, "version": 1, "tasks": [{"name": "n", "taskReferenceName": "n", "type": "NOOP"}]})
    kyb, _, _ = register_kyb(client)
    return {
        f"/elsa/api/workflow-definitions/{name}/execute": name,
        f"/elsa/api/workflow-definitions/{name}/dispatch": name,
        "/api/v1/external/workflows/run": kyb,
    }


_START_FIELDS = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(
        words("input variables correlationId instanceId versionOptions triggerActivityId context workflowId config"),
        json_values(8) | WEIRD_TEXT,
    ),
)


@THROUGH_HTTP
@given(st.one_of(_START_FIELDS, json_values(8)), st.integers(0, 2))
def test_any_elsa_or_ballerine_start_body_is_answered_without_a_5xx(
    client: httpx.Client, starts: dict[str, str], body: Any, which: int
) -> None:
    url, name = list(starts.items())[which]
    if isinstance(body, dict) and "workflowId" in body and which == 2:
        body = {**body, "workflowId": name}  # past the lookup, into the context's checks
    response = client.post(url, json=body)
    assert_not_5xx(response)
