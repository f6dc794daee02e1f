"""Elsa's workflow-instance routes over real HTTP, on both stores: list (filters, order, paging), get, cancel."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.elsa.support import ELSA, failing, human, registered, worker_flow
from tests.helpers import adder, register, run_of, unique


def _execute(client: httpx.Client, name: str, **body: Any) -> str:
    """Execute ``name``; a few milliseconds apart, so the list's order by creation time is the order of calls."""
    time.sleep(0.003)
    response = client.post(f"{ELSA}/workflow-definitions/{name}/execute", json=body)
    assert response.status_code in (200, 500), response.text
    instance_id: str = response.json()["instanceId"]
    return instance_id


def _list(client: httpx.Client, **params: Any) -> dict[str, Any]:
    response = client.get(f"{ELSA}/workflow-instances", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_list_filters_by_definition_status_and_sub_status(client: httpx.Client) -> None:
    name = unique("elsa_mixed")
    task_type = unique("elsa_mixed_work")
    # One name, several versions: finished (v1), suspended on a person (v2), on a worker (v3), faulted (v4).
    register(client, adder(name))
    register(client, {**human(name), "version": 2})
    register(client, {**worker_flow(name, task_type), "version": 3})
    register(client, {**failing(name), "version": 4})
    finished = _execute(client, name, versionOptions=1, input={"a": 1, "b": 2})
    on_person = _execute(client, name, versionOptions=2, correlationId="c-2")
    on_worker = _execute(client, name, versionOptions=3)
    faulted = _execute(client, name, versionOptions=4)

    listed = _list(client, definitionId=name)
    assert listed["totalCount"] == 4
    assert [item["id"] for item in listed["items"]] == [faulted, on_worker, on_person, finished]
    by_id = {item["id"]: item for item in listed["items"]}
    assert {i: (by_id[i]["status"], by_id[i]["subStatus"]) for i in by_id} == {
        finished: ("Finished", "Finished"),
        on_person: ("Running", "Suspended"),
        on_worker: ("Running", "Suspended"),
        faulted: ("Finished", "Faulted"),
    }
    item = by_id[on_person]
    assert (item["definitionVersionId"], item["version"], item["correlationId"]) == (f"{name}:2", 2, "c-2")
    assert (by_id[faulted]["incidentCount"], by_id[finished]["incidentCount"]) == (1, 0)
    assert [i["id"] for i in _list(client, definitionId=name, hasIncidents="true")["items"]] == [faulted]
    assert _list(client, definitionId=name, hasIncidents="false")["totalCount"] == 3

    assert {i["id"] for i in _list(client, definitionId=name, status="Running")["items"]} == {on_person, on_worker}
    assert [i["id"] for i in _list(client, definitionId=name, subStatus="Faulted")["items"]] == [faulted]
    suspended = _list(client, definitionId=name, subStatus="suspended")
    assert {i["id"] for i in suspended["items"]} == {on_person, on_worker} and suspended["totalCount"] == 2
    assert _list(client, definitionId=name, subStatus="Executing") == {"items": [], "totalCount": 0}
    assert _list(client, definitionId=name, subStatus="Pending") == {"items": [], "totalCount": 0}
    assert [i["id"] for i in _list(client, definitionId=name, version=1)["items"]] == [finished]
    assert [i["id"] for i in _list(client, definitionId=name, correlationId="c-2")["items"]] == [on_person]
    assert _list(client, definitionId=name, isSystem="true")["totalCount"] == 0

    posted = client.post(
        f"{ELSA}/workflow-instances",
        json={"definitionIds": [name], "statuses": ["Finished"], "subStatuses": ["Finished", "Faulted"]},
    )
    assert posted.status_code == 200, posted.text
    assert [i["id"] for i in posted.json()["items"]] == [faulted, finished]


def test_the_list_pages_from_zero_and_orders_as_asked(client: httpx.Client) -> None:
    name = registered(client, adder, "elsa_pages")
    ids = [_execute(client, name, input={"a": n, "b": 0}) for n in range(5)]
    first = _list(client, definitionId=name, page=0, pageSize=2)
    second = _list(client, definitionId=name, page=1, pageSize=2)
    last = _list(client, definitionId=name, page=2, pageSize=2)
    assert first["totalCount"] == second["totalCount"] == 5
    newest_first = list(reversed(ids))
    assert [i["id"] for i in first["items"] + second["items"] + last["items"]] == newest_first
    oldest = _list(client, definitionId=name, orderBy="Created", orderDirection="Ascending", pageSize=1)
    assert [i["id"] for i in oldest["items"]] == [ids[0]]
    assert len(_list(client, definitionId=name)["items"]) == 5


def test_the_list_refuses_bad_filters_naming_them(client: httpx.Client) -> None:
    for params, field in (
        ({"page": "-1", "pageSize": "2"}, "page"),
        ({"pageSize": "0"}, "pageSize"),
        ({"pageSize": "100000"}, "pageSize"),
        ({"status": "Sleeping"}, "status"),
        ({"subStatuses": "Lost"}, "subStatuses"),
        ({"orderBy": "Colour"}, "orderBy"),
        ({"orderDirection": "Sideways"}, "orderDirection"),
    ):
        response = client.get(f"{ELSA}/workflow-instances", params=params)
        assert response.status_code == 400, (params, response.text)
        assert field in response.json()["errors"], response.json()
    bad = client.post(
        f"{ELSA}/workflow-instances",
        json={"timestampFilters": [{"column": "CreatedAt", "operator": "Around", "timestamp": "2024-01-01T00:00:00Z"}]},
    )
    assert bad.status_code == 400
    assert "timestampFilters[0].operator" in bad.json()["errors"]


def test_timestamp_filters_compare_created_at(client: httpx.Client) -> None:
    name = registered(client, adder, "elsa_times")
    instance_id = _execute(client, name, input={"a": 1, "b": 1})
    created = client.get(f"{ELSA}/workflow-instances/{instance_id}").json()["createdAt"]
    for operator, expected in (("GreaterThanOrEqual", [instance_id]), ("LessThan", []), ("Is", [instance_id])):
        response = client.post(
            f"{ELSA}/workflow-instances",
            json={
                "definitionId": name,
                "timestampFilters": [{"column": "CreatedAt", "operator": operator, "timestamp": created}],
            },
        )
        assert response.status_code == 200, response.text
        assert [i["id"] for i in response.json()["items"]] == expected, operator


def test_get_one_answers_the_instance_model_or_404(client: httpx.Client) -> None:
    name = registered(client, human, "elsa_get_one")
    instance_id = _execute(client, name, input={"who": "ann"})
    response = client.get(f"{ELSA}/workflow-instances/{instance_id}")
    assert response.status_code == 200, response.text
    model = response.json()
    assert (model["id"], model["definitionId"], model["version"]) == (instance_id, name, 1)
    assert (model["status"], model["subStatus"], model["isSystem"]) == ("Running", "Suspended", False)
    assert model["workflowState"]["input"] == {"who": "ann"}
    assert [b["activityId"] for b in model["workflowState"]["bookmarks"]] == ["review"]
    missing = client.get(f"{ELSA}/workflow-instances/{unique('nobody')}")
    assert (missing.status_code, missing.content) == (404, b"")


def test_cancel_terminates_a_running_instance_and_refuses_an_ended_one(client: httpx.Client) -> None:
    name = registered(client, human, "elsa_cancel")
    instance_id = _execute(client, name)
    response = client.post(f"{ELSA}/cancel/workflow-instances/{instance_id}")
    assert response.status_code == 200, response.text
    assert run_of(client, instance_id)["status"] == "TERMINATED"
    state = client.get(f"{ELSA}/workflow-instances/{instance_id}").json()
    assert (state["status"], state["subStatus"]) == ("Finished", "Cancelled")
    again = client.post(f"{ELSA}/cancel/workflow-instances/{instance_id}")
    assert again.status_code == 409
    assert "TERMINATED" in again.json()["message"]
    missing = client.post(f"{ELSA}/cancel/workflow-instances/{unique('nobody')}")
    assert (missing.status_code, missing.content) == (404, b"")


def test_bulk_cancel_by_ids_and_by_definition_counts_what_it_ended(client: httpx.Client) -> None:
    name = registered(client, human, "elsa_bulk")
    done = registered(client, adder, "elsa_bulk_done")
    first, second = _execute(client, name), _execute(client, name)
    finished = _execute(client, done, input={"a": 1, "b": 1})
    response = client.post(
        f"{ELSA}/bulk-actions/cancel/workflow-instances", json={"ids": [first, finished, unique("nobody")]}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"cancelled": 1}
    assert run_of(client, first)["status"] == "TERMINATED"
    assert run_of(client, second)["status"] == "RUNNING"
    third = _execute(client, name)
    by_definition = client.post(
        f"{ELSA}/bulk-actions/cancel/workflow-instances", json={"definitionId": name, "versionOptions": "Latest"}
    )
    assert by_definition.json() == {"cancelled": 2}
    assert {run_of(client, i)["status"] for i in (second, third)} == {"TERMINATED"}
    half = client.post(f"{ELSA}/bulk-actions/cancel/workflow-instances", json={"definitionId": name})
    assert half.status_code == 400
    assert "versionOptions" in half.json()["errors"]
    by_version_id = client.post(
        f"{ELSA}/bulk-actions/cancel/workflow-instances", json={"definitionVersionId": f"{name}:1"}
    )
    assert by_version_id.json() == {"cancelled": 0}
