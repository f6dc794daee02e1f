"""Decisions made off the event loop, over the wire on both stores: runs larger than the loop's budget,
scripts, and the sub-workflow depth bound."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ServerProcess
from tests.helpers import complete, dynamic_fork_steps, poll, register, run_of, start, wait_for_status


@pytest.fixture
def small_budget_client(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[httpx.Client]:
    """A server on which every decision on a run of more than 160 tasks is made off the event loop."""
    monkeypatch.setenv("BATON_DECISION_LOOP_BUDGET", "10")
    process = ServerProcess(store_url, tmp_path / "server.log")
    process.start()
    try:
        with process.client(timeout=30.0) as client:
            yield client
    finally:
        process.stop()


def test_a_run_larger_than_the_loop_budget_is_decided_off_the_loop_to_the_end(
    small_budget_client: httpx.Client,
) -> None:
    client = small_budget_client
    branches = 300
    refs = [f"part{i}" for i in range(branches)]
    register(
        client,
        {
            "name": "wide",
            "tasks": [
                *dynamic_fork_steps(),
                {
                    "name": "total",
                    "taskReferenceName": "total",
                    "type": "INLINE",
                    "inputParameters": {
                        "evaluatorType": "javascript",
                        "expression": "Object.values($.joined).reduce((a, b) => a + b.double, 0)",
                        "joined": "${fan_in.output}",
                    },
                },
            ],
            "outputParameters": {"total": "${total.output.result}"},
        },
    )
    workflow_id = start(
        client,
        "wide",
        {
            "tasks": [{"name": "wide_work", "taskReferenceName": ref, "type": "SIMPLE"} for ref in refs],
            "inputs": {ref: {"i": i} for i, ref in enumerate(refs)},
        },
    )
    done = 0
    while done < branches:
        tasks = poll(client, "wide_work", count=200)
        assert tasks, f"only {done} of {branches} branches were handed out"
        for task in tasks:
            response = complete(client, task, {"double": task["inputData"]["i"] * 2})
            assert response.status_code == 200, response.text
        done += len(tasks)
    run = wait_for_status(client, workflow_id, "COMPLETED")
    assert run["output"] == {"total": sum(i * 2 for i in range(branches))}
    assert len(run["tasks"]) == branches + 3


@pytest.fixture
def shallow_server(store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerProcess]:
    monkeypatch.setenv("BATON_MAX_SUBWORKFLOW_DEPTH", "3")
    process = ServerProcess(store_url, tmp_path / "server.log")
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_a_workflow_that_starts_itself_stops_at_the_depth_bound(shallow_server: ServerProcess) -> None:
    with shallow_server.client(timeout=30.0) as client:
        register(
            client,
            {
                "name": "recurse",
                "tasks": [
                    {
                        "name": "again",
                        "taskReferenceName": "again",
                        "type": "SUB_WORKFLOW",
                        "subWorkflowParam": {"name": "recurse", "version": 1},
                    }
                ],
            },
        )
        top = start(client, "recurse")
        run = wait_for_status(client, top, "FAILED")
        chain: list[dict[str, Any]] = [run]
        while (child_id := chain[-1]["tasks"][0].get("subWorkflowId")) is not None:
            chain.append(run_of(client, child_id))
        assert len(chain) == 4  # the top run and three nested below it
        deepest = chain[-1]["tasks"][0]
        assert deepest["status"] == "FAILED"
        assert "max_subworkflow_depth (3)" in deepest["reasonForIncompletion"]
        assert all(link["status"] == "FAILED" for link in chain)
