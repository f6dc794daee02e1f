"""The official conductor-python client (2.0.0), unchanged, against a server with auth on and 2-second tokens.

Its clients take ``CONDUCTOR_AUTH_KEY`` / ``CONDUCTOR_AUTH_SECRET`` from the environment, get a token from
``POST /api/token`` and send it as ``X-Authorization``; an OPERATOR key registers and starts, a WORKER key limited
to the run's task types works them in TaskHandler's processes. The tokens expire while the run waits, and the
clients carry on: they read the 401 ``EXPIRED_TOKEN`` and fetch a new one. Its authorization client manages
applications and keys through ``/api/applications``.
"""

from __future__ import annotations

import time

import httpx
import pytest

pytest.importorskip("conductor.client")

from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
from conductor.client.http.models.workflow_def import WorkflowDef
from conductor.client.http.models.workflow_task import WorkflowTask
from conductor.client.http.rest import ApiException
from conductor.client.orkes.orkes_authorization_client import OrkesAuthorizationClient
from conductor.client.orkes.orkes_metadata_client import OrkesMetadataClient
from conductor.client.orkes.orkes_workflow_client import OrkesWorkflowClient

from tests.access.helpers import make_key
from tests.conftest import ServerProcess
from tests.helpers import SHARED_TLS
from tests.sdk.test_conductor_python import wait_until_ended

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning"),
]


def _config(server: ServerProcess, key: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> Configuration:
    monkeypatch.setenv("CONDUCTOR_AUTH_KEY", key[0])
    monkeypatch.setenv("CONDUCTOR_AUTH_SECRET", key[1])
    return Configuration(server_api_url=server.url + "/api")


def _flow() -> WorkflowDef:
    tasks = [
        WorkflowTask(
            name="cpy_add_one", task_reference_name="s0", type="SIMPLE", input_parameters={"x": "${workflow.input.x}"}
        ),
        WorkflowTask(name="pause", task_reference_name="pause", type="WAIT", input_parameters={"duration": "4s"}),
        WorkflowTask(
            name="cpy_double", task_reference_name="s1", type="SIMPLE", input_parameters={"x": "${s0.output.x}"}
        ),
    ]
    return WorkflowDef(
        name="cpy_auth_flow",
        version=1,
        tasks=tasks,
        output_parameters={"x": "${s1.output.x}"},
        schema_version=2,
        owner_email="test@example.com",
    )


def test_the_official_client_works_with_keys_and_survives_expiring_tokens(
    short_tokens: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    with short_tokens.client() as admin:
        operator = make_key(admin, ["OPERATOR"])
        worker = make_key(admin, ["WORKER"], taskTypes=["cpy_add_one", "cpy_double"])
    worker_config = _config(short_tokens, worker, monkeypatch)
    config = _config(short_tokens, operator, monkeypatch)
    metadata, workflows = OrkesMetadataClient(config), OrkesWorkflowClient(config)
    metadata.register_workflow_def(_flow(), overwrite=True)
    run_id = workflows.start_workflow_by_name("cpy_auth_flow", {"x": 3})

    handler = TaskHandler(
        configuration=worker_config,
        scan_for_annotated_workers=True,
        import_modules=["tests.sdk.conductor_workers"],
        monitor_processes=False,
    )
    handler.start_processes()
    try:
        done = wait_until_ended(workflows, run_id)
        assert (done.status, done.output) == ("COMPLETED", {"x": 8}), "the workers' tokens expired during the wait"
        time.sleep(2.5)
        again = workflows.start_workflow_by_name("cpy_auth_flow", {"x": 1})
        assert wait_until_ended(workflows, again).output == {"x": 4}
    finally:
        handler.stop_processes()
    with httpx.Client(base_url=short_tokens.url, verify=SHARED_TLS) as client:
        refused = client.get(f"/api/workflow/{run_id}", headers={"Authorization": f"Bearer {worker[0]}:{worker[1]}"})
        assert refused.status_code == 403


def test_the_official_authorization_client_manages_applications_and_keys(
    server: ServerProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    with server.client() as admin:
        manager = make_key(admin, ["ADMIN"])
    auth = OrkesAuthorizationClient(_config(server, manager, monkeypatch))
    from conductor.client.http.models.create_or_update_application_request import CreateOrUpdateApplicationRequest

    application = auth.create_application(CreateOrUpdateApplicationRequest(name="cpy-app"))
    assert application.name == "cpy-app" and application.id
    auth.add_role_to_application_user(application.id, "VIEWER")
    created = auth.create_access_key(application.id)
    assert created.id and created.secret
    keys = auth.get_access_keys(application.id)
    assert [(k.id, k.status) for k in keys] == [(created.id, "ACTIVE")]
    viewer = {"Authorization": f"Bearer {created.id}:{created.secret}"}
    assert httpx.get(f"{server.url}/api/metadata/workflow", headers=viewer).status_code == 200
    assert auth.toggle_access_key_status(application.id, created.id).status == "INACTIVE"
    assert httpx.get(f"{server.url}/api/metadata/workflow", headers=viewer).status_code == 401
    assert auth.get_application(application.id).name == "cpy-app"
    auth.update_application(CreateOrUpdateApplicationRequest(name="cpy-renamed"), application.id)
    assert auth.get_application(application.id).name == "cpy-renamed"
    auth.delete_access_key(application.id, created.id)
    assert auth.get_access_keys(application.id) == []
    auth.delete_application(application.id)
    with pytest.raises(ApiException) as missing:
        auth.get_application(application.id)
    assert missing.value.status == 404
