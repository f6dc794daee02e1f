"""``POST /api/workflow/test``: run a workflow with its worker steps answered from mocks (``service.mocked_runs``).

The body is Conductor's ``WorkflowTestRequest``; the answer is the run, with its tasks, as
``GET /api/workflow/{id}`` shows it. ``waitForSeconds`` (Baton's own, default 10, capped
like a sync execute's) bounds how long the test waits for steps the server runs itself.

conductor-python 2.0.0 sends each ``TaskMock`` under its private attribute names
(``_status``, ``_output``), and a field left at its default as the text of a Python
property (``"<property object at 0x...>"``). Conductor ignores those keys, so every mock
it gets from that client is COMPLETED with no output; Baton reads them as the client
meant them, and takes such a text as the field left out.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.conductor.streaming import json_answer, run_pieces
from baton.api.params import as_type, float_param, json_body
from baton.api.state import service
from baton.model import WorkflowTestRequest

_DEFAULT_WAIT_SECONDS = 10.0
_PYTHON_CLIENT_MOCK_KEYS = {"_status": "status", "_output": "output"}
_PYTHON_PROPERTY_TEXT = "<property object at "


async def workflow_test(request: Request) -> Response:
    baton = service(request)
    test = as_type(_with_python_client_mocks(await json_body(request)), WorkflowTestRequest)
    wait_seconds = float_param(request, "waitForSeconds", _DEFAULT_WAIT_SECONDS)
    wait_seconds = min(wait_seconds, baton.context.settings.max_wait_for_seconds)
    run = await baton.mocked_runs.test(test, wait_seconds=wait_seconds)
    return await json_answer(run_pieces(run))


def _with_python_client_mocks(body: Any) -> Any:
    """The request with conductor-python 2.0.0's mock keys read as Conductor's (anything else left as it is)."""
    if not isinstance(body, dict):
        return body
    fixed = dict(body)
    mocks = body.get("taskRefToMockOutput")
    if isinstance(mocks, dict):
        fixed["taskRefToMockOutput"] = {
            ref: [_mock(entry) for entry in entries] if isinstance(entries, list) else entries
            for ref, entries in mocks.items()
        }
    children = body.get("subWorkflowTestRequest")
    if isinstance(children, dict):
        fixed["subWorkflowTestRequest"] = {ref: _with_python_client_mocks(sub) for ref, sub in children.items()}
    return fixed


def _mock(entry: Any) -> Any:
    if not isinstance(entry, dict):
        return entry
    mock = {key: value for key, value in entry.items() if not str(key).startswith("_")}
    for private, name in _PYTHON_CLIENT_MOCK_KEYS.items():
        value = entry.get(private)
        if name not in mock and value is not None and not str(value).startswith(_PYTHON_PROPERTY_TEXT):
            mock[name] = value
    return mock


routes = [Route("/workflow/test", workflow_test, methods=["POST"])]
