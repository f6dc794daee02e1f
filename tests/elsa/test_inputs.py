"""A definition's declared ``inputs`` and ``outputs``: kept through Conductor's metadata routes, and every start's
input checked against ``inputs`` (Elsa's execute and dispatch, Conductor's starts), refused with a 400 naming the
input and nothing stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from baton.model.arguments import ArgumentDef, argument_errors, input_errors
from tests.elsa.support import ELSA
from tests.helpers import adder, register, start, unique, wait_for_status

INPUTS = [
    {
        "name": "amount",
        "type": "Double",
        "displayName": "Amount",
        "description": "What the order costs",
        "category": "Order",
        "uiHint": "singleline",
        "required": True,
    },
    {"name": "tags", "type": "String", "isArray": True},
    {"name": "placedAt", "type": "DateTime"},
]
OUTPUTS = [{"name": "sum", "type": "Int64", "displayName": "Sum", "description": "a + b", "category": "Result"}]


def _declared(name: str) -> dict[str, Any]:
    return adder(name, inputs=INPUTS, outputs=OUTPUTS)


def _runs_of(client: httpx.Client, name: str) -> int:
    response = client.get(f"{ELSA}/workflow-instances", params={"definitionId": name})
    assert response.status_code == 200, response.text
    count: int = response.json()["totalCount"]
    return count


def test_inputs_and_outputs_round_trip_through_conductors_metadata_routes(client: httpx.Client) -> None:
    name = unique("elsa_declared")
    register(client, _declared(name))
    stored = client.get(f"/api/metadata/workflow/{name}").json()
    assert stored["inputs"] == INPUTS
    assert stored["outputs"] == OUTPUTS
    plain = unique("elsa_plain")
    register(client, adder(plain))
    assert client.get(f"/api/metadata/workflow/{plain}").json()["inputs"] == []


def test_registration_refuses_unknown_types_and_repeated_names(client: httpx.Client) -> None:
    definition = adder(
        unique("elsa_bad_inputs"),
        inputs=[{"name": "a", "type": "Int32"}, {"name": "a", "type": "Money"}],
        outputs=[{"name": " ", "type": "String"}],
    )
    response = client.post("/api/metadata/workflow", json=definition)
    assert response.status_code == 400
    paths = {error["path"] for error in response.json()["validationErrors"]}
    assert paths == {"inputs[1].name", "inputs[1].type", "outputs[0].name"}


def test_a_missing_required_input_is_refused_on_every_way_in_and_nothing_is_stored(client: httpx.Client) -> None:
    name = unique("elsa_required")
    register(client, _declared(name))
    elsa = client.post(f"{ELSA}/workflow-definitions/{name}/execute", json={"input": {"a": 1}})
    assert elsa.status_code == 400, elsa.text
    assert elsa.json()["errors"] == {"input.amount": ["is required (Double)"]}
    dispatched = client.post(f"{ELSA}/workflow-definitions/{name}/dispatch", json={"input": {}})
    assert dispatched.status_code == 400
    conductor = client.post(f"/api/workflow/{name}", json={"a": 1})
    assert conductor.status_code == 400
    assert conductor.json()["validationErrors"] == [{"path": "input.amount", "message": "is required (Double)"}]
    with_request = client.post("/api/workflow", json={"name": name, "input": {"amount": None}})
    assert with_request.status_code == 400
    synchronous = client.post(f"/api/workflow/execute/{name}", json={"input": {}})
    assert synchronous.status_code == 400
    assert _runs_of(client, name) == 0


def test_a_wrong_type_is_refused_naming_the_input(client: httpx.Client) -> None:
    name = unique("elsa_types")
    register(client, _declared(name))
    for given, path, message in (
        ({"amount": "12"}, "input.amount", "expected a Number (Double), got a String"),
        ({"amount": 1, "tags": "x"}, "input.tags", "expected an Array of String, got a String"),
        ({"amount": 1, "tags": ["x", 2]}, "input.tags[1]", "expected a String, got the Number 2"),
        ({"amount": 1, "placedAt": "yesterday"}, "input.placedAt", "expected a DateTime (ISO-8601 text), got a String"),
    ):
        response = client.post(f"/api/workflow/{name}", json=given)
        assert response.status_code == 400, given
        assert response.json()["validationErrors"] == [{"path": path, "message": message}]
    assert _runs_of(client, name) == 0
    good = {"amount": 9.5, "tags": ["a"], "placedAt": "2026-12-06T08:00:00Z", "a": 1, "b": 2, "extra": True}
    accepted = client.post(f"{ELSA}/workflow-definitions/{name}/execute", json={"input": good})
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["workflowState"]["output"] == {"sum": 3}


@pytest.mark.parametrize(
    ("type_", "good", "bad"),
    [
        ("String", "x", 1),
        ("Int32", 2**31 - 1, 2**31),
        ("Int64", -(2**63), 1.5),
        ("Byte", 255, 256),
        ("Decimal", 1.25, "1.25"),
        ("Boolean", False, 0),
        ("Object", {"any": "thing"}, None),
        ("JsonObject", {"a": 1}, [1]),
        ("Array", [1, "a"], {"a": 1}),
        ("DateTime", "2026-12-06T08:00:00+01:00", "2026-13-01T00:00:00"),
        ("DateOnly", "2026-12-06", "06/12/2026"),
        ("Guid", "0190b7a4-3c2e-7d41-9a55-1f5e3a2b4c6d", "not-a-guid"),
    ],
)
def test_each_type_alias_accepts_its_values_only(type_: str, good: Any, bad: Any) -> None:
    declared = [ArgumentDef(name="v", type=type_.lower(), required=True)]
    assert input_errors(declared, {"v": good}) == []
    assert len(input_errors(declared, {"v": bad})) == 1
    assert list(argument_errors(declared, "inputs")) == []


def test_an_optional_input_may_be_missing_or_null() -> None:
    declared = [ArgumentDef(name="note", type="String")]
    assert input_errors(declared, {}) == []
    assert input_errors(declared, {"note": None}) == []


def test_a_child_started_without_its_required_input_fails_its_parents_step(client: httpx.Client) -> None:
    child, parent = unique("elsa_child"), unique("elsa_parent")
    register(client, _declared(child))
    register(
        client,
        {
            "name": parent,
            "version": 1,
            "tasks": [
                {
                    "name": "run_child",
                    "taskReferenceName": "sub",
                    "type": "SUB_WORKFLOW",
                    "subWorkflowParam": {"name": child, "version": 1},
                    "inputParameters": {"a": 1},
                }
            ],
        },
    )
    run = wait_for_status(client, start(client, parent), "FAILED")
    assert "input.amount: is required (Double)" in run["tasks"][0]["reasonForIncompletion"]
