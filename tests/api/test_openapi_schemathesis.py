"""Schemathesis over the served document against a real ``baton serve``, on SQLite and on PostgreSQL.

Every documented operation gets a few generated requests (valid and invalid ones); each answer
must not be a 5xx, must have a documented status and content type, and must match its documented
schema. Bounded: a few examples per operation, and a server of the file's own whose long polls and
synchronous executes wait at most a moment, so a run takes well under a minute per store. What
it registers and starts stays in that server's fresh database.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from baton.api.openapi import document
from tests.conftest import STORES, ServerProcess, running_server
from tests.helpers import ADMIN_HEADERS, QUICK, examples

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
UNPARSABLE = "Invalid HTTP request received."
"""What uvicorn answers, as plain text, before any of Baton's code runs, to a request no HTTP parser takes (a
generated header with an empty ``content-length``, a name with a character a token may not hold): not an answer
the document describes, so not checked against it."""
SHORT_WAITS = {"BATON_MAX_POLL_TIMEOUT_MS": "200", "BATON_MAX_WAIT_FOR_SECONDS": "1"}
"""Long polls and synchronous executes wait at most this long: the run is about answers, not waits."""


@pytest.fixture(scope="module", params=STORES)
def quick_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder: Path = tmp_path_factory.mktemp(f"schemathesis-{request.param}")
    with running_server(request.param, folder, SHORT_WAITS) as process:
        yield process


@pytest.fixture(scope="module")
def session() -> Iterator[requests.Session]:
    """One keep-alive session for the file's requests, closed at its end (a session per call leaves sockets to the
    garbage collector, which the suite turns into errors)."""
    with requests.Session() as http:
        yield http


HEAVY = ["create", "update", "startWorkflow", "testWorkflow"]
"""Registering workflow definitions (one or many), starting a run with an inline one, testing one
(``/api/workflow/test``): their coverage phase (a case for each field of WorkflowDef and WorkflowTask missing, of a
wrong type, at a bound) is 2,500 requests each, minutes on PostgreSQL (testWorkflow's: 70 s on SQLite, 130 s on
PostgreSQL, on a busy machine); they get the generated examples only. ``test_bad_input.py`` and ``test_hostile.py``
hold a definition's fields to 400s field by field."""
WITHOUT_COVERAGE = {"phases": {"coverage": {"enabled": False}}}
CONFIG = schemathesis.Config.from_dict(
    WITHOUT_COVERAGE if QUICK else {"operations": [{"include-operation-id": HEAVY, **WITHOUT_COVERAGE}]}
)

schema = schemathesis.openapi.from_dict(document(), config=CONFIG)
"""The document as the server serves it (``test_openapi.py`` checks that the two are equal). Loaded here, not from
the server through a fixture: Schemathesis' fixture loader reads a pytest internal that pytest 9 no longer has."""


@schema.parametrize()
@settings(
    max_examples=examples(8),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.data_too_large],
    database=None,
)
def test_every_answer_is_documented(
    case: schemathesis.Case, quick_server: ServerProcess, session: requests.Session
) -> None:
    response = case.call(base_url=quick_server.url, session=session, headers=ADMIN_HEADERS, timeout=10)
    if response.status_code == 400 and response.text == UNPARSABLE:
        return
    case.validate_response(response, checks=CHECKS)
