"""Search from the clients: the bundled SDK (sync and async) and the official conductor-python, unchanged."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from baton.model import TaskStatus, WorkflowStatus
from baton.sdk import AsyncBatonClient, BatonApiError, BatonClient
from tests.conftest import ServerProcess
from tests.helpers import (
    ADMIN_HEADERS,
    complete,
    conductor_configuration,
    poll,
    register,
    simple_workflow,
    start,
    wait_for_status,
)

pytestmark = [
    pytest.mark.timeout(90),
    # conductor-python's own models call their deprecated accessors when they are built.
    pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning"),
    pytest.mark.file_server,  # the tests count every run the server holds
]


@pytest.fixture(scope="module")
def two_runs(file_server: ServerProcess) -> Iterator[tuple[str, str]]:
    """A COMPLETED run and a RUNNING one of ``sdk_search``, made once on the file's server (tests only read)."""
    with file_server.client(timeout=30.0) as client:
        yield made_runs(client)


def made_runs(client: httpx.Client) -> tuple[str, str]:
    register(client, simple_workflow("sdk_search", ["sdk_step"]))
    done = start(client, "sdk_search", {"who": "ada"}, correlationId="sdk-c")
    (task,) = poll(client, "sdk_step")
    assert complete(client, task).status_code == 200
    wait_for_status(client, done, "COMPLETED")
    running = start(client, "sdk_search", {"who": "grace"})
    return done, running


def test_baton_client(server: ServerProcess, two_runs: tuple[str, str]) -> None:
    done, running = two_runs
    with BatonClient(server.url, headers=ADMIN_HEADERS) as baton:
        everything = baton.search_workflows()
        assert everything.total_hits == 2
        assert [s.workflow_id for s in everything.results] == [running, done]
        (summary,) = baton.search_workflows("status = COMPLETED").results
        assert (summary.workflow_id, summary.status) == (done, WorkflowStatus.COMPLETED)
        assert summary.correlation_id == "sdk-c"
        assert [s.workflow_id for s in baton.search_workflows(free_text="grace").results] == [running]
        assert baton.search_workflows(size=1, sort="startTime:ASC").results[0].workflow_id == done

        tasks = baton.search_tasks("taskType = sdk_step", sort="scheduledTime:ASC")
        assert [(t.workflow_id, t.status) for t in tasks.results] == [
            (done, TaskStatus.COMPLETED),
            (running, TaskStatus.SCHEDULED),
        ]
        assert baton.get_running_workflows("sdk_search") == [running]
        assert baton.get_running_workflows("sdk_search", version=3) == []

        with pytest.raises(BatonApiError) as raised:
            baton.search_workflows("status RUNNING")
        assert raised.value.status_code == 400
        assert [e.path for e in raised.value.validation_errors] == ["query"]


async def test_async_baton_client(server: ServerProcess, two_runs: tuple[str, str]) -> None:
    done, running = two_runs
    async with AsyncBatonClient(server.url, headers=ADMIN_HEADERS) as baton:
        assert [s.workflow_id for s in (await baton.search_workflows("workflowType IN (sdk_search)")).results] == [
            running,
            done,
        ]
        assert (await baton.search_tasks("status = SCHEDULED")).results[0].workflow_id == running
        assert await baton.get_running_workflows("sdk_search") == [running]


def test_conductor_python_parses_our_answers(server: ServerProcess, two_runs: tuple[str, str]) -> None:
    pytest.importorskip("conductor.client")
    from conductor.client.http.api.task_resource_api import TaskResourceApi
    from conductor.client.http.api.workflow_resource_api import WorkflowResourceApi
    from conductor.client.http.api_client import ApiClient
    from conductor.client.orkes.orkes_workflow_client import OrkesWorkflowClient

    done, running = two_runs
    config = conductor_configuration(server.url)
    workflows = OrkesWorkflowClient(config)

    everything = workflows.search()
    assert [s.workflow_id for s in everything.results] == [running, done]
    completed = workflows.search(query="status IN (COMPLETED)", free_text="*")
    (summary,) = completed.results
    assert (summary.workflow_id, summary.workflow_type, summary.status) == (done, "sdk_search", "COMPLETED")
    assert summary.correlation_id == "sdk-c"
    assert summary.start_time.endswith("Z") and summary.end_time.endswith("Z")
    assert '"who":"ada"' in summary.input
    assert [s.workflow_id for s in workflows.search(free_text="grace").results] == [running]

    api_client = ApiClient(config)
    assert WorkflowResourceApi(api_client).get_running_workflow("sdk_search") == [running]
    assert WorkflowResourceApi(api_client).get_running_workflow("sdk_search", version=1) == [running]
    task_page = TaskResourceApi(api_client).search1(query="status = COMPLETED", free_text="*")
    assert task_page.total_hits == 1
    (task,) = task_page.results
    assert (task.workflow_id, task.task_type, task.status) == (done, "sdk_step", "COMPLETED")
