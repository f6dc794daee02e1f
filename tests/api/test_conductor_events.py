"""EVENT tasks with a ``conductor`` sink fire the event handlers listening on their event, over real HTTP.

A run's EVENT task publishes; each active handler of that event whose condition
holds runs its actions: start a run, complete or fail a task, terminate a run,
update its variables. A sink Baton cannot reach fails its task at run time.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.helpers import register, run_of, start, unique, wait_for, wait_for_status


def event_step(sink: str, ref: str = "publish", **inputs: Any) -> dict[str, Any]:
    return {"name": "publish", "taskReferenceName": ref, "type": "EVENT", "sink": sink, "inputParameters": inputs}


def wait_step(ref: str = "hold") -> dict[str, Any]:
    return {"name": ref, "taskReferenceName": ref, "type": "WAIT"}


def workflow(name: str, *tasks: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "version": 1, "tasks": list(tasks)}


def add_handler(client: httpx.Client, event: str, *actions: dict[str, Any], **extra: Any) -> str:
    name = extra.pop("name", None) or unique("handler")
    body = {"name": name, "event": event, "active": True, "actions": list(actions), **extra}
    response = client.post("/api/event", json=body)
    assert response.status_code == 200, response.text
    return name


def start_action(name: str, **params: Any) -> dict[str, Any]:
    return {"action": "start_workflow", "start_workflow": {"name": name, **params}}


def runs_correlated(client: httpx.Client, name: str, correlation_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/workflow/{name}/correlated/{correlation_id}", params={"includeClosed": "true"})
    assert response.status_code == 200, response.text
    runs: list[dict[str, Any]] = response.json()
    return runs


def wait_for_runs(client: httpx.Client, name: str, correlation_id: str, timeout: float = 15.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while not (found := runs_correlated(client, name, correlation_id)):
        assert time.monotonic() < deadline, f"no run of {name} correlated with {correlation_id}"
        time.sleep(0.05)
    return found


def test_a_plain_conductor_sink_starts_another_workflow(client: httpx.Client) -> None:
    source, follow_up = unique("ev_source"), unique("ev_follow_up")
    register(client, workflow(source, event_step("conductor", orderId="${workflow.input.orderId}")))
    register(client, workflow(follow_up, wait_step()))
    event = f"conductor:{source}:publish"
    add_handler(
        client,
        event,
        start_action(
            follow_up,
            version=1,
            correlationId="${workflowInstanceId}",
            input={"order": "${orderId}", "from": "${$.workflowType}", "text": "order ${orderId} of ${workflowType}"},
        ),
    )

    source_id = start(client, source, {"orderId": "o-7"}, correlationId="c-1")
    run = wait_for_status(client, source_id, "COMPLETED")
    [task] = run["tasks"]
    assert task["status"] == "COMPLETED"
    assert task["outputData"] == {
        "orderId": "o-7",
        "sink": "conductor",
        "workflowInstanceId": source_id,
        "workflowType": source,
        "workflowVersion": 1,
        "correlationId": "c-1",
        "event_produced": event,
    }

    [started] = wait_for_runs(client, follow_up, source_id)
    message_id = started["input"].pop("conductor.event.messageId")
    assert isinstance(message_id, str) and message_id
    assert started["input"] == {
        "order": "o-7",
        "from": source,
        "text": f"order o-7 of {source}",
        "conductor.event.name": event,
    }
    assert started["status"] == "RUNNING"


def test_a_sink_given_as_an_expression_is_resolved_against_the_run(client: httpx.Client) -> None:
    source, follow_up = unique("ev_dynamic"), unique("ev_dynamic_target")
    register(client, workflow(source, event_step("${workflow.input.where}")))
    register(client, workflow(follow_up, wait_step()))
    add_handler(client, f"conductor:{source}:chosen", start_action(follow_up, correlationId="${workflowInstanceId}"))
    source_id = start(client, source, {"where": "conductor:chosen"})
    [task] = wait_for_status(client, source_id, "COMPLETED")["tasks"]
    assert (task["outputData"]["sink"], task["outputData"]["event_produced"]) == (
        "conductor:chosen",
        f"conductor:{source}:chosen",
    )
    assert len(wait_for_runs(client, follow_up, source_id)) == 1


def test_a_named_conductor_sink_completes_a_wait_task_of_another_run_by_reference(client: httpx.Client) -> None:
    source, waiting = unique("ev_signal"), unique("ev_waiting")
    register(
        client,
        workflow(
            source, event_step("conductor:approved", target="${workflow.input.target}", who="${workflow.input.who}")
        ),
    )
    register(client, {**workflow(waiting, wait_step()), "outputParameters": {"who": "${hold.output.approvedBy}"}})
    add_handler(
        client,
        f"conductor:{source}:approved",
        {
            "action": "complete_task",
            "complete_task": {"workflowId": "${target}", "taskRefName": "hold", "output": {"approvedBy": "${who}"}},
        },
    )

    waiting_id = start(client, waiting)
    wait_for(client, waiting_id, lambda r: [t["status"] for t in r["tasks"]] == ["IN_PROGRESS"])
    wait_for_status(client, start(client, source, {"target": waiting_id, "who": "ada"}), "COMPLETED")

    done = wait_for_status(client, waiting_id, "COMPLETED")
    assert done["output"] == {"who": "ada"}
    [hold] = done["tasks"]
    assert hold["outputData"]["approvedBy"] == "ada"
    assert hold["outputData"]["taskRefName"] == "hold"
    assert hold["outputData"]["conductor.event.name"] == f"conductor:{source}:approved"


def test_fail_update_variables_and_terminate_act_on_other_runs(client: httpx.Client) -> None:
    source, target = unique("ev_ops"), unique("ev_target")
    register(
        client,
        workflow(
            source, event_step("conductor:ops", failing="${workflow.input.failing}", stop="${workflow.input.stop}")
        ),
    )
    register(client, {**workflow(target, wait_step()), "variables": {"seen": ["a"]}})
    add_handler(
        client,
        f"conductor:{source}:ops",
        {"action": "fail_task", "fail_task": {"workflowId": "${failing}", "taskRefName": "hold"}},
        {
            "action": "update_workflow_variables",
            "update_workflow_variables": {
                "workflowId": "${stop}",
                "variables": {"seen": "${$.workflowType}"},
                "appendArray": True,
            },
        },
        {
            "action": "terminate_workflow",
            "terminate_workflow": {"workflowId": "${stop}", "terminationReason": "stopped by ${workflowType}"},
        },
    )
    failing, stop = start(client, target), start(client, target)
    for run_id in (failing, stop):
        wait_for(client, run_id, lambda r: [t["status"] for t in r["tasks"]] == ["IN_PROGRESS"])

    wait_for_status(client, start(client, source, {"failing": failing, "stop": stop}), "COMPLETED")

    assert wait_for_status(client, failing, "FAILED")["tasks"][0]["status"] == "FAILED"
    stopped = wait_for_status(client, stop, "TERMINATED")
    assert stopped["reasonForIncompletion"] == f"stopped by {source}"
    assert stopped["variables"] == {"seen": ["a", source]}


def _marker_last(client: httpx.Client, event: str, marker: str, correlation: str) -> None:
    """A handler named to run after the others (handlers of an event run by name): once its run exists, every
    handler of the event has been acted on."""
    add_handler(client, event, start_action(marker, correlationId=correlation), name=unique("zz_marker"))


def test_a_false_condition_or_an_inactive_handler_does_nothing(client: httpx.Client) -> None:
    source, follow_up, marker = unique("ev_cond"), unique("ev_cond_target"), unique("ev_marker")
    register(client, workflow(source, event_step("conductor", amount="${workflow.input.amount}")))
    register(client, workflow(follow_up, wait_step()))
    register(client, workflow(marker, wait_step()))
    event = f"conductor:{source}:publish"
    handlers: dict[str, dict[str, Any]] = {
        "big": {"condition": "$.amount > 100"},
        "js": {"condition": "$.amount > 100", "evaluatorType": "graaljs"},
        "off": {"active": False},
        "bad": {"condition": "$.amount.nope.deeper"},
    }
    for prefix, extra in handlers.items():
        action = start_action(follow_up, correlationId=f"{prefix}-${{workflowInstanceId}}")
        add_handler(client, event, action, name=unique(f"a_{prefix}"), **extra)
    _marker_last(client, event, marker, "${workflowInstanceId}")

    small = start(client, source, {"amount": 5})
    wait_for_status(client, small, "COMPLETED")
    wait_for_runs(client, marker, small)
    for prefix in ("big", "js", "off", "bad"):
        assert runs_correlated(client, follow_up, f"{prefix}-{small}") == []

    large = start(client, source, {"amount": 500})
    wait_for_runs(client, marker, large)
    assert len(runs_correlated(client, follow_up, f"big-{large}")) == 1
    assert len(runs_correlated(client, follow_up, f"js-{large}")) == 1
    assert runs_correlated(client, follow_up, f"off-{large}") == []


def test_a_condition_that_never_ends_is_cut_off_and_value_param_reads_the_payload(client: httpx.Client) -> None:
    source, follow_up, marker = unique("ev_bounds"), unique("ev_bounds_target"), unique("ev_bounds_marker")
    register(client, workflow(source, event_step("conductor", go="${workflow.input.go}")))
    register(client, workflow(follow_up, wait_step()))
    register(client, workflow(marker, wait_step()))
    event = f"conductor:{source}:publish"
    loop = start_action(follow_up, correlationId="loop-${workflowInstanceId}")
    add_handler(client, event, loop, condition="while (true) {}", name=unique("a_loop"))
    flag = start_action(follow_up, correlationId="flag-${workflowInstanceId}")
    add_handler(client, event, flag, condition="go", evaluatorType="value-param", name=unique("a_flag"))
    _marker_last(client, event, marker, "${workflowInstanceId}")

    went, stayed = start(client, source, {"go": True}), start(client, source, {"go": False})
    for run_id in (went, stayed):
        wait_for_runs(client, marker, run_id)
        assert runs_correlated(client, follow_up, f"loop-{run_id}") == []
    assert len(runs_correlated(client, follow_up, f"flag-{went}")) == 1
    assert runs_correlated(client, follow_up, f"flag-{stayed}") == []


def test_a_failing_action_does_not_stop_the_next_ones(client: httpx.Client) -> None:
    source, marker = unique("ev_fails"), unique("ev_after")
    register(client, workflow(source, event_step("conductor")))
    register(client, workflow(marker, wait_step()))
    add_handler(
        client,
        f"conductor:{source}:publish",
        start_action(unique("no_such_workflow")),
        {"action": "complete_task", "complete_task": {"workflowId": "no-such-run", "taskRefName": "x"}},
        start_action(marker, correlationId="${workflowInstanceId}"),
    )
    source_id = start(client, source)
    assert wait_for_status(client, source_id, "COMPLETED")["tasks"][0]["status"] == "COMPLETED"
    assert len(wait_for_runs(client, marker, source_id)) == 1


def test_an_event_published_with_async_complete_leaves_the_task_in_progress(client: httpx.Client) -> None:
    source, follow_up = unique("ev_async"), unique("ev_async_target")
    register(client, workflow(source, {**event_step("conductor"), "asyncComplete": True}))
    register(client, workflow(follow_up, wait_step()))
    add_handler(client, f"conductor:{source}:publish", start_action(follow_up, correlationId="${workflowInstanceId}"))
    source_id = start(client, source)
    wait_for_runs(client, follow_up, source_id)
    [task] = run_of(client, source_id)["tasks"]
    assert task["status"] == "IN_PROGRESS"
    assert task["outputData"]["event_produced"] == f"conductor:{source}:publish"


def test_a_sink_baton_cannot_reach_is_accepted_and_fails_the_task_naming_it(client: httpx.Client) -> None:
    for sink in ("sqs:orders", "kafka:topic", "nats:subject", "amqp:queue", "webhook:ftp://x", "conductorx"):
        name = unique("ev_unreachable")
        register(client, workflow(name, event_step(sink)))
        run = wait_for_status(client, start(client, name), "FAILED")
        [task] = run["tasks"]
        assert task["status"] == "FAILED"
        assert f"'{sink}'" in task["reasonForIncompletion"], task["reasonForIncompletion"]
        assert f"'{sink}'" in run["reasonForIncompletion"], run["reasonForIncompletion"]
