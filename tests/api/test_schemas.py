"""``inputSchema``, ``outputSchema`` and ``enforceSchema`` on task and workflow definitions, over real HTTP.

They round trip as Conductor's ``SchemaDef``; a schema that is not a JSON Schema is refused at
registration; with ``enforceSchema`` a start's input, a worker task's input and a worker's output
are checked, naming the field at fault.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.api.health_prober import HealthProber
from tests.helpers import poll, register, run_of, start, task_defs, unique, wait_for_status

AMOUNT_SCHEMA = {
    "type": "object",
    "properties": {"amount": {"type": "number"}, "currency": {"type": "string", "enum": ["EUR", "USD"]}},
    "required": ["amount"],
}


def schema_def(data: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"name": "payment", "version": 1, "type": "JSON", "data": data or AMOUNT_SCHEMA, **extra}


def one_step(name: str, worker: str, **extra: Any) -> dict[str, Any]:
    step = {
        "name": worker,
        "taskReferenceName": "pay",
        "type": "SIMPLE",
        "inputParameters": {"amount": "${workflow.input.amount}"},
    }
    return {"name": name, "version": 1, "tasks": [step], **extra}


def field_errors(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 400, response.text
    return [(e["path"], e["message"]) for e in response.json()["validationErrors"]]


def runs_named(client: httpx.Client, name: str) -> int:
    found = client.get("/api/workflow/search", params={"query": f"workflowType IN ({name})"}).json()
    return int(found["totalHits"])


def test_definitions_without_schemas_say_so(client: httpx.Client) -> None:
    worker, name = unique("plain_task"), unique("plain_flow")
    task_defs(client, {"name": worker})
    register(client, one_step(name, worker))
    task_def = client.get(f"/api/metadata/taskdefs/{worker}").json()
    definition = client.get(f"/api/metadata/workflow/{name}").json()
    for got in (task_def, definition):
        assert (got["inputSchema"], got["outputSchema"], got["enforceSchema"]) == (None, None, False)


def test_schemas_round_trip_as_conductor_shapes_them(client: httpx.Client) -> None:
    worker, name = unique("typed_task"), unique("typed_flow")
    given = schema_def(externalRef="https://schemas.example/payment.json", ownerApp="billing")
    task_defs(client, {"name": worker, "inputSchema": given, "outputSchema": schema_def(), "enforceSchema": True})
    register(client, one_step(name, worker, inputSchema=given, outputSchema=schema_def(), enforceSchema=True))
    task_def = client.get(f"/api/metadata/taskdefs/{worker}").json()
    definition = client.get(f"/api/metadata/workflow/{name}").json()
    for got in (task_def, definition):
        assert got["enforceSchema"] is True
        assert {k: got["inputSchema"][k] for k in given} == given
        assert got["outputSchema"]["data"] == AMOUNT_SCHEMA
    listed = [d for d in client.get("/api/metadata/workflow").json() if d["name"] == name]
    assert listed[0]["inputSchema"]["data"] == AMOUNT_SCHEMA


def test_a_schema_that_is_not_json_schema_is_refused_naming_it(client: httpx.Client) -> None:
    worker, name = unique("bad_schema_task"), unique("bad_schema_flow")
    bad = schema_def({"type": "object", "properties": {"amount": {"type": "money"}}})
    errors = field_errors(client.post("/api/metadata/taskdefs", json=[{"name": worker, "outputSchema": bad}]))
    assert errors[0][0] == "outputSchema.data.properties.amount.type"
    assert "is not a valid JSON Schema" in errors[0][1]
    assert client.get(f"/api/metadata/taskdefs/{worker}").status_code == 404

    errors = field_errors(client.post("/api/metadata/workflow", json=one_step(name, worker, inputSchema=bad)))
    assert errors[0][0] == "inputSchema.data.properties.amount.type"
    assert client.get(f"/api/metadata/workflow/{name}").status_code == 404

    embedded = one_step(name, worker)
    embedded["tasks"][0]["taskDefinition"] = {"inputSchema": bad}
    errors = field_errors(client.post("/api/metadata/workflow", json=embedded))
    assert errors[0][0] == "tasks[0].taskDefinition.inputSchema.data.properties.amount.type"


def test_what_cannot_be_enforced_or_fetched_is_refused(client: httpx.Client) -> None:
    worker = unique("unenforceable")
    cases = [
        ({"name": "ref-only", "version": 1, "type": "JSON"}, "inputSchema.data", "no schema registry"),
        (schema_def(type="AVRO"), "inputSchema.type", "must be JSON"),
        (schema_def({"$ref": "https://schemas.example/x.json"}), "inputSchema.data.$ref", "fetches no schema"),
        (
            schema_def({"type": "string", "pattern": "(unclosed"}),
            "inputSchema.data.pattern",
            "not a regular expression",
        ),
        (schema_def({"items": {"items": {"items": {}}}} | _deep(40)), "inputSchema.data", "must nest at most 32"),
        (schema_def({"enum": ["x" * 1000] * 100}), "inputSchema.data", "must be at most 65536 bytes"),
        (schema_def({"allOf": [{}] * 1000}), "inputSchema.data", "must hold at most 1000 objects"),
        (schema_def({"items": {"$ref": "#/$defs/gone"}}), "inputSchema.data.items.$ref", "names nothing"),
        (schema_def({"$schema": "https://example.com/mine"}), "inputSchema.data.$schema", "names no JSON Schema draft"),
    ]
    for schema, path, words in cases:
        body = [{"name": worker, "inputSchema": schema, "enforceSchema": True}]
        errors = field_errors(client.post("/api/metadata/taskdefs", json=body))
        assert errors[0][0] == path and words in errors[0][1], errors
    assert client.get(f"/api/metadata/taskdefs/{worker}").status_code == 404
    # Kept, not enforced: a reference to a schema elsewhere is Conductor's ordinary use.
    task_defs(client, {"name": worker, "inputSchema": {"name": "ref-only", "version": 2, "type": "JSON"}})
    assert client.get(f"/api/metadata/taskdefs/{worker}").json()["inputSchema"]["version"] == 2


def _deep(levels: int) -> dict[str, Any]:
    nested: dict[str, Any] = {}
    for _ in range(levels):
        nested = {"not": nested}
    return {"allOf": [nested]}


def test_a_start_whose_input_breaks_the_schema_is_refused_and_stores_nothing(client: httpx.Client) -> None:
    worker, name = unique("charge"), unique("checked_start")
    register(client, one_step(name, worker, inputSchema=schema_def(), enforceSchema=True))
    response = client.post(f"/api/workflow/{name}", json={"amount": "x"})
    assert field_errors(response) == [("input.amount", "'x' is not of type 'number'")]
    assert "input.amount: 'x' is not of type 'number'" in response.json()["message"]
    assert field_errors(client.post(f"/api/workflow/{name}", json={"currency": "EUR"})) == [
        ("input", "'amount' is a required property")
    ]
    execute = client.post(f"/api/workflow/execute/{name}", json={"amount": 1, "currency": "GBP"})
    assert field_errors(execute)[0][0] == "input.currency"
    assert runs_named(client, name) == 0
    workflow_id = start(client, name, {"amount": 12.5, "currency": "EUR"})
    assert run_of(client, workflow_id)["status"] == "RUNNING"
    assert runs_named(client, name) == 1


def test_schemas_are_not_enforced_unless_asked(client: httpx.Client) -> None:
    worker, name = unique("lax"), unique("lax_flow")
    task_defs(client, {"name": worker, "outputSchema": schema_def(), "retryCount": 0})
    register(client, one_step(name, worker, inputSchema=schema_def()))
    workflow_id = start(client, name, {"amount": "not a number"})
    (task,) = poll(client, worker)
    done = {"taskId": task["taskId"], "workflowInstanceId": workflow_id, "status": "COMPLETED", "outputData": {}}
    assert client.post("/api/tasks", json=done).status_code == 200
    wait_for_status(client, workflow_id, "COMPLETED")


def test_an_output_that_breaks_the_schema_fails_the_task_and_is_retried(client: httpx.Client) -> None:
    worker, name = unique("pays"), unique("checked_output")
    task_defs(
        client,
        {"name": worker, "outputSchema": schema_def(), "enforceSchema": True, "retryCount": 1, "retryDelaySeconds": 0},
    )
    register(client, one_step(name, worker))
    workflow_id = start(client, name, {"amount": 3})
    (first,) = poll(client, worker)
    bad = {"taskId": first["taskId"], "workflowInstanceId": workflow_id, "status": "COMPLETED"}
    assert client.post("/api/tasks", json={**bad, "outputData": {"amount": "three"}}).status_code == 200
    (second,) = poll(client, worker, timeout_ms=5_000)
    failed = run_of(client, workflow_id)["tasks"][0]
    assert failed["status"] == "FAILED"
    assert failed["reasonForIncompletion"] == "outputSchema: output.amount: 'three' is not of type 'number'"
    assert second["retryCount"] == 1
    good = {"taskId": second["taskId"], "workflowInstanceId": workflow_id, "status": "COMPLETED"}
    assert client.post("/api/tasks", json={**good, "outputData": {"amount": 3}}).status_code == 200
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert [t["status"] for t in run["tasks"]] == ["FAILED", "COMPLETED"]


def test_an_output_that_breaks_the_schema_fails_the_run_when_no_retry_is_left(client: httpx.Client) -> None:
    worker, name = unique("pays_once"), unique("checked_output_once")
    task_defs(client, {"name": worker, "outputSchema": schema_def(), "enforceSchema": True, "retryCount": 0})
    register(client, one_step(name, worker))
    workflow_id = start(client, name, {"amount": 3})
    (task,) = poll(client, worker)
    update = {"taskId": task["taskId"], "workflowInstanceId": workflow_id, "status": "COMPLETED", "outputData": {}}
    assert client.post("/api/tasks/update-v2", json=update).status_code in (200, 204)
    run = wait_for_status(client, workflow_id, "FAILED")
    assert run["reasonForIncompletion"] == "outputSchema: output: 'amount' is a required property"


def test_a_task_input_that_breaks_the_schema_fails_when_scheduled(client: httpx.Client) -> None:
    worker, name = unique("wants_amount"), unique("checked_input")
    task_defs(client, {"name": worker, "inputSchema": schema_def(), "enforceSchema": True, "retryCount": 2})
    register(client, one_step(name, worker))
    workflow_id = start(client, name, {"amount": "lots"})
    run = wait_for_status(client, workflow_id, "FAILED")
    (task,) = run["tasks"]
    assert task["status"] == "FAILED_WITH_TERMINAL_ERROR"  # the same input would fail every retry
    assert task["reasonForIncompletion"] == "inputSchema: input.amount: 'lots' is not of type 'number'"
    assert poll(client, worker, timeout_ms=100) == []
    fine = start(client, name, {"amount": 7})
    (polled,) = poll(client, worker)
    assert polled["workflowInstanceId"] == fine


def test_the_largest_schema_allowed_registers_while_the_server_keeps_serving(client: httpx.Client, server: Any) -> None:
    worker = unique("big_schema")
    body = [{"name": worker, "inputSchema": schema_def({"allOf": [{"type": "object"}] * 999}), "enforceSchema": True}]
    with HealthProber(server.url) as prober:
        began = time.monotonic()
        assert client.post("/api/metadata/taskdefs", json=body).status_code == 200
        took = time.monotonic() - began
    prober.assert_worst_below(max(0.3, took / 2))  # its meta-schema check ran beside the loop, not on it


def test_a_large_output_is_checked_off_the_event_loop(client: httpx.Client) -> None:
    worker, name = unique("big_output"), unique("checked_large")
    rows = {
        "type": "object",
        "properties": {
            "rows": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "integer"}}}}
        },
    }
    task_defs(client, {"name": worker, "outputSchema": schema_def(rows), "enforceSchema": True, "retryCount": 0})
    register(client, one_step(name, worker))
    workflow_id = start(client, name, {"amount": 1})
    (task,) = poll(client, worker)
    output = {"rows": [{"n": n} for n in range(5_000)] + [{"n": "last"}]}
    done = {"taskId": task["taskId"], "workflowInstanceId": workflow_id, "status": "COMPLETED", "outputData": output}
    assert client.post("/api/tasks", json=done).status_code == 200
    run = wait_for_status(client, workflow_id, "FAILED")
    assert (
        run["tasks"][0]["reasonForIncompletion"] == "outputSchema: output.rows[5000].n: 'last' is not of type 'integer'"
    )


def test_a_backtracking_pattern_cannot_stall_the_server(client: httpx.Client, server: Any) -> None:
    worker, name = unique("redos"), unique("checked_redos")
    evil = {"type": "object", "properties": {"word": {"type": "string", "pattern": "^(a|a)*$"}}}
    task_defs(client, {"name": worker, "outputSchema": schema_def(evil), "enforceSchema": True, "retryCount": 0})
    register(client, one_step(name, worker))
    workflow_id = start(client, name, {"amount": 1})
    (task,) = poll(client, worker)
    output = {"word": "a" * 64 + "!"}
    done = {"taskId": task["taskId"], "workflowInstanceId": workflow_id, "status": "COMPLETED", "outputData": output}
    with HealthProber(server.url) as prober:
        assert client.post("/api/tasks", json=done).status_code == 200
    prober.assert_worst_below(0.3)
    run = wait_for_status(client, workflow_id, "FAILED")
    reason = run["tasks"][0]["reasonForIncompletion"]
    assert reason == "outputSchema: output: not validated: more than 50 ms went on regular expressions"
