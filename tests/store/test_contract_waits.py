"""The store contract (``baton/store/roles.py``) for triggers and waiting steps, run against every backend."""

from __future__ import annotations

from typing import Any

import pytest

from baton.errors import ConflictError
from baton.model import TaskStatus, WorkflowDef, WorkflowStatus, WorkflowTask
from baton.model.triggers import Trigger
from baton.store import Store
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(60)


def first_step(name: str, version: int, step_type: str, **inputs: Any) -> WorkflowDef:
    return WorkflowDef(
        name=name,
        version=version,
        tasks=[WorkflowTask(name="first", task_reference_name="first", type=step_type, input_parameters=inputs)],
    )


def endpoint(name: str, version: int, path: str, *methods: str, starts: bool = True) -> WorkflowDef:
    return first_step(name, version, "HTTP_ENDPOINT", path=path, methods=list(methods), canStartWorkflow=starts)


async def test_registration_keeps_the_latest_versions_triggers(store: Store) -> None:
    await store.put_workflow_defs([endpoint("orders", 1, "/Orders/{id}/", "POST", "get")], overwrite=False)
    on_paid = first_step("on_paid", 1, "WAIT", event="paid", canStartWorkflow=True)
    await store.put_workflow_defs([on_paid], overwrite=True)
    await store.put_workflow_defs([first_step("also_paid", 1, "HUMAN", canStartWorkflow=True)], overwrite=True)
    await store.put_workflow_defs([first_step("not_a_trigger", 1, "WAIT", event="paid")], overwrite=True)

    assert await store.triggers("http") == [
        Trigger("http", "orders/{id}", "GET", "orders", 1, "first"),
        Trigger("http", "orders/{id}", "POST", "orders", 1, "first"),
    ]
    assert await store.triggers("event", "paid") == [Trigger("event", "paid", "", "on_paid", 1, "first")]
    assert await store.triggers("event", "first") == [Trigger("event", "first", "", "also_paid", 1, "first")]
    assert await store.triggers("event", "nothing") == []

    # A newer version moves the trigger; one that no longer starts runs removes it; deleting it brings back the
    # version before.
    await store.put_workflow_defs([endpoint("orders", 2, "orders/{id}/lines", "PUT")], overwrite=False)
    assert [(t.key, t.method, t.workflow_version) for t in await store.triggers("http")] == [
        ("orders/{id}/lines", "PUT", 2)
    ]
    await store.put_workflow_defs([endpoint("orders", 3, "orders", "GET", starts=False)], overwrite=True)
    assert await store.triggers("http") == []
    assert await store.delete_workflow_def("orders", 3)
    assert [(t.key, t.workflow_version) for t in await store.triggers("http")] == [("orders/{id}/lines", 2)]


async def test_a_path_and_method_start_one_workflow_only(store: Store) -> None:
    await store.put_workflow_defs([endpoint("first_owner", 1, "items/{id}", "GET", "POST")], overwrite=False)
    # The same route with another parameter name, for one method in common: refused, and nothing is stored.
    with pytest.raises(ConflictError, match="first_owner"):
        await store.put_workflow_defs([endpoint("second_owner", 1, "items/{itemId}", "POST")], overwrite=False)
    assert await store.get_workflow_def("second_owner") is None
    with pytest.raises(ConflictError, match="first_owner"):
        await store.put_workflow_defs([endpoint("second_owner", 1, "ITEMS/{x}", "GET")], overwrite=True)
    assert await store.get_workflow_def("second_owner") is None
    # Another method, or the owner's own next version, is fine.
    await store.put_workflow_defs([endpoint("second_owner", 1, "items/{itemId}", "DELETE")], overwrite=False)
    await store.put_workflow_defs([endpoint("first_owner", 2, "items/{id}", "GET")], overwrite=False)
    assert [(t.workflow_name, t.method) for t in await store.triggers("http")] == [
        ("second_owner", "DELETE"),
        ("first_owner", "GET"),
    ]


async def test_waiting_steps_are_found_by_type_run_and_correlation(store: Store) -> None:
    first = make_run("wait-1", correlation_id="order-7", create_time=1_000)
    second = make_run("wait-2", correlation_id="order-8", create_time=2_000)
    ended = make_run("wait-3", correlation_id="order-7", create_time=500, status=WorkflowStatus.COMPLETED)
    await start(
        store,
        first,
        [
            make_task(first, "w1-human", seq=1, task_type="HUMAN", status=TaskStatus.IN_PROGRESS),
            make_task(first, "w1-wait", seq=2, task_type="WAIT", status=TaskStatus.IN_PROGRESS),
            make_task(first, "w1-done", seq=3, task_type="WAIT", status=TaskStatus.COMPLETED),
            make_task(first, "w1-worker", seq=4, task_type="work", status=TaskStatus.IN_PROGRESS),
        ],
    )
    await start(store, second, [make_task(second, "w2-http", task_type="HTTP_ENDPOINT", status=TaskStatus.IN_PROGRESS)])
    await start(store, ended, [make_task(ended, "w3-wait", task_type="WAIT", status=TaskStatus.IN_PROGRESS)])

    everything = await store.waiting_tasks(["WAIT", "HUMAN", "HTTP_ENDPOINT"])
    assert [(w.workflow_id, w.task_id) for w in everything] == [
        ("wait-1", "w1-human"),
        ("wait-1", "w1-wait"),
        ("wait-2", "w2-http"),
    ]
    human = everything[0]
    assert (human.workflow_name, human.correlation_id, human.reference_task_name, human.task_type) == (
        "flow",
        "order-7",
        "w1-human_ref",
        "HUMAN",
    )
    assert human.input_data == {"x": 1}
    assert [w.task_id for w in await store.waiting_tasks(["HTTP_ENDPOINT"])] == ["w2-http"]
    assert [w.task_id for w in await store.waiting_tasks(["WAIT"], workflow_id="wait-1")] == ["w1-wait"]
    assert [w.task_id for w in await store.waiting_tasks(["WAIT", "HUMAN"], correlation_id="order-7")] == [
        "w1-human",
        "w1-wait",
    ]
    assert await store.waiting_tasks(["WAIT"], correlation_id="order-8") == []
    assert len(await store.waiting_tasks(["WAIT", "HUMAN", "HTTP_ENDPOINT"], limit=2)) == 2
