"""The store contract (``baton/store/roles.py``) for task logs, run against every backend."""

from __future__ import annotations

import pytest

from baton.engine.decision import Decision, Refusal
from baton.errors import StoreError
from baton.model import TaskExecLog, Workflow, WorkflowDef
from baton.store import Store
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(60)

# -- task logs -------------------------------------------------------------------------------


async def test_task_logs_in_order_per_task(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1", seq=1), make_task(run, "t2", seq=2)])

    assert await store.get_task_logs("t1") == []
    assert await store.add_task_logs("t1", [TaskExecLog(log="one", task_id="t1", created_time=5)])
    assert await store.add_task_logs(
        "t1",
        [TaskExecLog(log="two ü \u0000", task_id="t1", created_time=7), TaskExecLog(log="three", created_time=6)],
    )
    assert await store.add_task_logs("t2", [])
    assert await store.get_task_logs("t1") == [
        TaskExecLog(log="one", task_id="t1", created_time=5),
        TaskExecLog(log="two ü \u0000", task_id="t1", created_time=7),
        TaskExecLog(log="three", task_id="t1", created_time=6),
    ]
    assert await store.get_task_logs("t2") == []


async def test_task_logs_of_an_unknown_task(store: Store) -> None:
    assert await store.add_task_logs("missing", [TaskExecLog(log="x", created_time=1)]) is False
    assert await store.add_task_logs("missing", []) is False
    assert await store.get_task_logs("missing") is None


async def test_task_logs_go_with_their_run(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1")])
    await store.add_task_logs("t1", [TaskExecLog(log="x", created_time=1)])

    await store.delete_run("wf-1")

    assert await store.get_task_logs("t1") is None
    await start(store, make_run(), [make_task(run, "t1")])
    assert await store.get_task_logs("t1") == []


async def test_a_decision_appends_log_lines_in_its_transaction(store: Store) -> None:
    run = make_run()
    await start(store, run, [make_task(run, "t1")])

    def step(loaded: Workflow, definition: WorkflowDef) -> Decision:
        nxt = make_task(loaded, "t2", seq=2)
        return Decision(
            workflow=loaded,
            created=[nxt],
            logs=[
                TaskExecLog(log="on t1", task_id="t1", created_time=3),
                TaskExecLog(log="on the new t2", task_id="t2", created_time=4),
                TaskExecLog(log="again t1", task_id="t1", created_time=2),
            ],
        )

    def refused(loaded: Workflow, definition: WorkflowDef) -> Decision:
        logs = [TaskExecLog(log="never", task_id="t1", created_time=9)]
        return Decision(workflow=loaded, logs=logs, refusal=Refusal(kind="conflict", message="no"))

    def foreign(loaded: Workflow, definition: WorkflowDef) -> Decision:
        return Decision(workflow=loaded, logs=[TaskExecLog(log="x", task_id="elsewhere", created_time=1)])

    await store.transact("wf-1", step)
    await store.transact("wf-1", refused)
    with pytest.raises(StoreError, match="elsewhere"):
        await store.transact("wf-1", foreign)

    assert [(log.log, log.created_time) for log in await store.get_task_logs("t1") or []] == [
        ("on t1", 3),
        ("again t1", 2),
    ]
    assert [log.log for log in await store.get_task_logs("t2") or []] == ["on the new t2"]


async def test_a_new_runs_log_lines_are_written_with_it(store: Store) -> None:
    """A first decision may log on the tasks it creates (an HTTP_RESPONSE with no request to answer)."""
    run = make_run("wf-logged")
    first = make_task(run, "first")
    decision = Decision(
        workflow=run, created=[first], logs=[TaskExecLog(log="started with it", task_id="first", created_time=4)]
    )
    assert (await store.create_run(decision, WorkflowDef(name="flow", version=1, tasks=[]))).created
    assert [(log.log, log.created_time) for log in await store.get_task_logs("first") or []] == [("started with it", 4)]
    # A line for a task the run does not have is refused with everything else: no run is created.
    stray = Decision(workflow=make_run("wf-stray"), logs=[TaskExecLog(log="x", task_id="elsewhere", created_time=1)])
    with pytest.raises(StoreError, match="elsewhere"):
        await store.create_run(stray, WorkflowDef(name="flow", version=1, tasks=[]))
    assert await store.get_run("wf-stray") is None
