"""HTTP triggers with two ``baton serve`` processes on one PostgreSQL database: no server is special."""

from __future__ import annotations

from tests.api.http_target import HttpTarget, http_target
from tests.conftest import ServerProcess
from tests.helpers import register, unique

__all__ = ["http_target"]


def test_a_trigger_registered_on_one_server_starts_runs_on_another_which_a_third_request_resumes(
    two_servers: tuple[ServerProcess, ServerProcess], http_target: HttpTarget
) -> None:
    base = unique("shared")
    steps = [
        {
            "name": "hook",
            "taskReferenceName": "hook",
            "type": "HTTP_ENDPOINT",
            "inputParameters": {"path": f"{base}/start", "methods": ["POST"], "canStartWorkflow": True},
        },
        {"name": "ack", "taskReferenceName": "ack", "type": "HTTP_RESPONSE", "inputParameters": {"statusCode": 202}},
        {
            "name": "resume",
            "taskReferenceName": "resume",
            "type": "HTTP_ENDPOINT",
            "inputParameters": {"path": f"{base}/resume", "methods": ["POST"]},
        },
        {
            "name": "call",
            "taskReferenceName": "call",
            "type": "HTTP",
            "inputParameters": {"http_request": {"uri": f"{http_target.url}/json/x", "method": "GET"}},
        },
        {
            "name": "reply",
            "taskReferenceName": "reply",
            "type": "HTTP_RESPONSE",
            "inputParameters": {"body": {"n": "${call.output.response.body.n}", "who": "${resume.output.body.who}"}},
        },
    ]
    first_server, second_server = two_servers
    with (
        first_server.client(timeout=30) as first,
        second_server.client(timeout=30) as second,
    ):
        assert first.post(f"/workflows/{base}/start", json={}).status_code == 404  # the first now holds the triggers
        register(second, {"name": unique("shared_flow"), "tasks": steps})
        started = first.post(f"/workflows/{base}/start", json={}, headers={"X-Correlation-ID": "c-1"})
        assert started.status_code == 202, started.text
        workflow_id = started.headers["x-workflow-instance-id"]
        # Whichever server runs the HTTP step, the caller on the second gets the response the run wrote.
        resumed = second.post(f"/workflows/{base}/resume", json={"who": "second"}, params={"correlationId": "c-1"})
        assert resumed.status_code == 200, resumed.text
        assert resumed.json() == {"n": 42, "who": "second"}
        assert first.get(f"/api/workflow/{workflow_id}").json()["status"] == "COMPLETED"
