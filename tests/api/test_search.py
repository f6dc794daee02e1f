"""``/api/workflow/search``, ``/api/workflow/running/{name}`` and ``/api/tasks/search`` over real HTTP, both stores."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.helpers import complete, poll, register, run_of, simple_workflow, start, wait_for_status

pytestmark = [pytest.mark.timeout(90), pytest.mark.file_server]  # the tests count every run the server holds

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def search(client: httpx.Client, path: str = "/api/workflow/search", **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def found_ids(result: dict[str, Any]) -> list[str]:
    return [hit["workflowId"] for hit in result["results"]]


def next_millisecond() -> None:
    """Runs started in one millisecond would tie on start time; the server shares this clock."""
    now = time.time_ns() // 1_000_000
    while time.time_ns() // 1_000_000 <= now:
        time.sleep(0.0002)


@pytest.fixture(scope="module")
def runs(file_server: ServerProcess) -> Iterator[dict[str, str]]:
    """order: one COMPLETED (cid-1), one RUNNING (cid-2), one TERMINATED; refund: one RUNNING (cid-1).

    Made once on the file's server: the tests that use them only read. The correlation ids hold
    a letter outside hex, so no run id (a UUID) can contain them: on SQLite freeText is a substring match.
    """
    with file_server.client(timeout=30.0) as client:
        yield made_runs(client)


def made_runs(client: httpx.Client) -> dict[str, str]:
    register(client, simple_workflow("order", ["pack"]))
    register(client, simple_workflow("refund", ["pay_back"]))
    done = start(client, "order", {"customer": "ada-lovelace"}, correlationId="cid-1")
    (task,) = poll(client, "pack")
    assert complete(client, task, {"parcel": "p-1"}).status_code == 200
    wait_for_status(client, done, "COMPLETED")
    next_millisecond()
    running = start(client, "order", {"customer": "grace-hopper"}, correlationId="cid-2")
    next_millisecond()
    stopped = start(client, "order", {"customer": "alan-turing"})
    assert client.delete(f"/api/workflow/{stopped}", params={"reason": "changed mind"}).status_code == 200
    next_millisecond()
    refund = start(client, "refund", {"customer": "ada-lovelace"}, correlationId="cid-1")
    return {"done": done, "running": running, "stopped": stopped, "refund": refund}


def test_summary_shape_is_conductors(client: httpx.Client, runs: dict[str, str]) -> None:
    result = search(client, query=f"workflowId = {runs['done']}")
    assert result["totalHits"] == 1
    (summary,) = result["results"]
    run = run_of(client, runs["done"])
    assert summary["workflowType"] == "order"
    assert summary["version"] == 1
    assert summary["workflowId"] == runs["done"]
    assert summary["correlationId"] == "cid-1"
    assert summary["status"] == "COMPLETED"
    for name in ("startTime", "updateTime", "endTime"):
        assert ISO_MS.match(summary[name]), summary
    started = datetime.strptime(summary["startTime"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert int(started.timestamp() * 1000) == run["createTime"]
    assert json.loads(summary["input"]) == {"customer": "ada-lovelace"}
    assert json.loads(summary["output"]) == run["output"]
    assert summary["executionTime"] == run["endTime"] - run["startTime"]
    assert summary["failedReferenceTaskNames"] == ""
    assert summary["priority"] == 0

    running = search(client, query=f"workflowId = {runs['running']}")["results"][0]
    assert "endTime" not in running and running["executionTime"] == 0
    stopped = search(client, query=f"workflowId = {runs['stopped']}")["results"][0]
    assert (stopped["status"], stopped["reasonForIncompletion"]) == ("TERMINATED", "changed mind")


def test_query_language(client: httpx.Client, runs: dict[str, str]) -> None:
    everything = search(client, freeText="*")
    assert everything["totalHits"] == 4
    assert found_ids(everything) == [runs["refund"], runs["stopped"], runs["running"], runs["done"]]

    assert found_ids(search(client, query="workflowType IN (refund)")) == [runs["refund"]]
    assert found_ids(search(client, query="status IN (RUNNING,COMPLETED) AND workflowType = order")) == [
        runs["running"],
        runs["done"],
    ]
    assert found_ids(search(client, query="correlationId = cid-1")) == [runs["refund"], runs["done"]]
    created = run_of(client, runs["running"])["createTime"]
    assert found_ids(search(client, query=f"startTime > {created}")) == [runs["refund"], runs["stopped"]]
    assert found_ids(search(client, query=f"startTime <= {created}", sort="startTime:ASC")) == [
        runs["done"],
        runs["running"],
    ]


def test_free_text_matches_ids_correlation_ids_and_input(client: httpx.Client, runs: dict[str, str]) -> None:
    assert found_ids(search(client, freeText="ada-lovelace")) == [runs["refund"], runs["done"]]
    assert found_ids(search(client, freeText="cid-2")) == [runs["running"]]
    assert found_ids(search(client, freeText=runs["stopped"])) == [runs["stopped"]]
    assert found_ids(search(client, freeText="ada-lovelace", query="workflowType = order")) == [runs["done"]]
    assert search(client, freeText="nobody-at-all")["totalHits"] == 0


def test_paging_and_sorting(client: httpx.Client, runs: dict[str, str]) -> None:
    first = search(client, sort="startTime:ASC", start=0, size=3)
    assert first["totalHits"] == 4
    assert found_ids(first) == [runs["done"], runs["running"], runs["stopped"]]
    rest = search(client, sort="startTime:ASC", start=3, size=3)
    assert (rest["totalHits"], found_ids(rest)) == (4, [runs["refund"]])
    by_type = search(client, sort="workflowType:DESC,startTime:ASC")
    assert found_ids(by_type) == [runs["refund"], runs["done"], runs["running"], runs["stopped"]]


@pytest.mark.parametrize(
    ("params", "path", "message"),
    [
        ({"query": "status RUNNING"}, "query", "query: expected IN or = after 'status' at 7"),
        ({"query": "colour = red"}, "query", "unknown field 'colour' at 0"),
        ({"query": "status = SLEEPING"}, "query", "'SLEEPING' at 9 is not a status"),
        ({"query": "startTime > yesterday"}, "query", "'startTime' needs epoch milliseconds"),
        ({"query": "workflowType IN (a, b"}, "query", "expected ',' or ')'"),
        ({"query": "workflowType = a AND"}, "query", "expected a field name, got the end at 20"),
        ({"query": "workflowType = 'a"}, "query", "unterminated quoted value at 15"),
        ({"sort": "colour:DESC"}, "sort", "unknown field 'colour'"),
        ({"sort": "startTime:SIDEWAYS"}, "sort", "ASC or DESC"),
        ({"size": "5001"}, "size", "at most 5000"),
        ({"size": "many"}, "size", "whole number"),
        ({"start": "-1"}, "start", "must not be negative"),
    ],
)
def test_bad_search_is_400_naming_the_field(
    client: httpx.Client, params: dict[str, str], path: str, message: str
) -> None:
    response = client.get("/api/workflow/search", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert message in body["message"]
    assert [e["path"] for e in body["validationErrors"]] == [path]


@pytest.mark.own_server
def test_search_is_not_a_run_id(client: httpx.Client) -> None:
    assert search(client) == {"totalHits": 0, "results": []}
    assert search(client, path="/api/tasks/search") == {"totalHits": 0, "results": []}


def test_search_v2_gives_whole_runs(client: httpx.Client, runs: dict[str, str]) -> None:
    result = search(client, "/api/workflow/search-v2", query=f"workflowId = {runs['done']}")
    (run,) = result["results"]
    assert (run["workflowId"], run["workflowType"], run["status"]) == (runs["done"], "order", "COMPLETED")
    assert run["input"] == {"customer": "ada-lovelace"}
    assert isinstance(run["createTime"], int)


def test_running_ids(client: httpx.Client, runs: dict[str, str]) -> None:
    response = client.get("/api/workflow/running/order")
    assert response.status_code == 200
    assert response.json() == [runs["running"]]
    assert client.get("/api/workflow/running/order", params={"version": 2}).json() == []
    created = run_of(client, runs["running"])["createTime"]
    window = {"startTime": created, "endTime": created}
    assert client.get("/api/workflow/running/order", params=window).json() == [runs["running"]]
    after = {"startTime": created + 1}
    assert client.get("/api/workflow/running/order", params=after).json() == []
    assert client.get("/api/workflow/running/nothing").json() == []
    bad = client.get("/api/workflow/running/order", params={"startTime": "noon"})
    assert bad.status_code == 400 and bad.json()["validationErrors"][0]["path"] == "startTime"


def test_task_search(client: httpx.Client, runs: dict[str, str]) -> None:
    result = search(client, "/api/tasks/search", query="taskType = pack AND status = COMPLETED")
    assert result["totalHits"] == 1
    (summary,) = result["results"]
    assert summary["workflowId"] == runs["done"]
    assert summary["workflowType"] == "order"
    assert summary["correlationId"] == "cid-1"
    assert summary["taskType"] == summary["taskDefName"] == "pack"
    assert summary["referenceTaskName"] == "pack_0"
    assert summary["status"] == "COMPLETED"
    assert json.loads(summary["output"]) == {"parcel": "p-1"}
    for name in ("scheduledTime", "startTime", "updateTime", "endTime"):
        assert ISO_MS.match(summary[name]), summary

    scheduled = search(client, "/api/tasks/search", query="status = SCHEDULED")
    assert {hit["workflowId"] for hit in scheduled["results"]} == {runs["running"], runs["refund"]}
    by_run = search(client, "/api/tasks/search", query=f"workflowId = {runs['stopped']}")
    assert [hit["status"] for hit in by_run["results"]] == ["CANCELED"]
    whole = search(client, "/api/tasks/search-v2", query="workflowType = refund")
    assert [t["workflowInstanceId"] for t in whole["results"]] == [runs["refund"]]
    bad = client.get("/api/tasks/search", params={"query": "taskType > 3"})
    assert bad.status_code == 400 and "cannot be compared" in bad.json()["message"]
