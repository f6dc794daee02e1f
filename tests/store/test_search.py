"""Search, the running-ids list and retention's deletion, on both stores (``store`` fixture)."""

from __future__ import annotations

import msgspec
import pytest

from baton.engine.decision import Decision
from baton.model import TaskStatus, Workflow, WorkflowStatus
from baton.model.cases import CaseRecord
from baton.model.search_query import TASK_FIELDS, WORKFLOW_FIELDS, free_text_terms, parse_query, parse_sort
from baton.store import TOTAL_HITS_CAP, RunPosition, SearchRequest, Store
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(60)


def finished(run: Workflow, status: WorkflowStatus, end_time: int) -> Workflow:
    return msgspec.structs.replace(run, status=status, end_time=end_time, update_time=end_time)


def runs_query(query: str = "", free_text: str = "", sort: str = "", start: int = 0, size: int = 100) -> SearchRequest:
    return SearchRequest(
        query=parse_query(query, WORKFLOW_FIELDS),
        free_text=free_text_terms(free_text),
        sort=parse_sort(sort, WORKFLOW_FIELDS),
        start=start,
        size=size,
    )


async def ids(store: Store, query: str = "", free_text: str = "", sort: str = "") -> list[str]:
    page = await store.search_runs(runs_query(query, free_text, sort))
    found = [run.workflow_id for run in page.results]
    assert page.total_hits == len(found)
    return found


@pytest.fixture
async def populated(store: Store) -> Store:
    """Five runs: two types, four statuses, correlation ids, start times 1000..5000."""
    first = make_run("wf-1", name="order", correlation_id="c-1", create_time=1000)
    orders = [
        finished(first, WorkflowStatus.COMPLETED, 1500),
        make_run("wf-2", name="order", correlation_id="c-2", create_time=2000),
        finished(make_run("wf-3", name="refund", create_time=3000), WorkflowStatus.FAILED, 3500),
        make_run("wf-4", name="refund", correlation_id="c-1", create_time=4000, version=2),
        finished(make_run("wf-5", name="order", create_time=5000, priority=7), WorkflowStatus.TERMINATED, 9000),
    ]
    for run in orders:
        run.input = {"customer": f"cust-{run.workflow_id}", "note": "Zürich express"}
        await start(store, run, [make_task(run, f"{run.workflow_id}-t1", task_type=f"{run.workflow_name}_step")])
    return store


async def test_no_query_gives_everything_newest_first(populated: Store) -> None:
    assert await ids(populated) == ["wf-5", "wf-4", "wf-3", "wf-2", "wf-1"]
    assert await ids(populated, free_text="*") == ["wf-5", "wf-4", "wf-3", "wf-2", "wf-1"]


async def test_in_equals_and_combined(populated: Store) -> None:
    assert await ids(populated, "workflowType IN (refund)") == ["wf-4", "wf-3"]
    assert await ids(populated, "status IN (RUNNING,FAILED)") == ["wf-4", "wf-3", "wf-2"]
    assert await ids(populated, "correlationId = c-1") == ["wf-4", "wf-1"]
    assert await ids(populated, "workflowType = order AND status = RUNNING") == ["wf-2"]
    assert await ids(populated, "workflowId = 'wf-3'") == ["wf-3"]
    assert await ids(populated, "version = 2") == ["wf-4"]
    assert await ids(populated, "priority >= 5") == ["wf-5"]
    assert await ids(populated, "workflowType = order OR status = FAILED") == ["wf-5", "wf-3", "wf-2", "wf-1"]
    assert await ids(populated, "(workflowType = order OR status = FAILED) AND startTime < 3000") == ["wf-2", "wf-1"]
    assert await ids(populated, "workflowType NOT IN (order)") == ["wf-4", "wf-3"]


async def test_times(populated: Store) -> None:
    assert await ids(populated, "startTime > 2000") == ["wf-5", "wf-4", "wf-3"]
    assert await ids(populated, "startTime >= 2000 AND startTime <= 4000") == ["wf-4", "wf-3", "wf-2"]
    assert await ids(populated, "startTime = 1000") == ["wf-1"]
    assert await ids(populated, "startTime < '1970-01-01T00:00:02Z'") == ["wf-1"]
    # Runs still running have no end time: a bound on it leaves them out, != keeps them.
    assert await ids(populated, "endTime < 5000") == ["wf-3", "wf-1"]
    assert await ids(populated, "endTime != 9000") == ["wf-4", "wf-3", "wf-2", "wf-1"]
    assert await ids(populated, "updateTime > 5000") == ["wf-5"]


async def test_null_correlation_id_is_not_equal_to_anything(populated: Store) -> None:
    assert await ids(populated, "correlationId != c-1") == ["wf-5", "wf-3", "wf-2"]


async def test_free_text_matches_ids_correlation_ids_and_input(populated: Store) -> None:
    assert await ids(populated, free_text="wf-3") == ["wf-3"]
    assert await ids(populated, free_text="c-2") == ["wf-2"]
    assert await ids(populated, free_text="cust-wf-4") == ["wf-4"]
    assert await ids(populated, free_text="zürich") == ["wf-5", "wf-4", "wf-3", "wf-2", "wf-1"]
    assert await ids(populated, free_text="EXPRESS cust-wf-1") == ["wf-1"]
    assert await ids(populated, free_text="nowhere") == []
    assert await ids(populated, "status = RUNNING", free_text="express") == ["wf-4", "wf-2"]


async def test_free_text_is_not_a_pattern(populated: Store) -> None:
    assert await ids(populated, free_text="%") == []
    assert await ids(populated, free_text="_") == []


async def test_hostile_values_are_only_values(populated: Store) -> None:
    assert await ids(populated, 'workflowId = "x\' OR 1=1 --"') == []
    assert await ids(populated, free_text="x') OR 1=1 --") == []
    assert len(await ids(populated)) == 5


async def test_sort_and_pages(populated: Store) -> None:
    assert await ids(populated, sort="startTime:ASC") == ["wf-1", "wf-2", "wf-3", "wf-4", "wf-5"]
    assert await ids(populated, sort="workflowType:DESC,startTime:ASC") == ["wf-3", "wf-4", "wf-1", "wf-2", "wf-5"]
    page = await populated.search_runs(runs_query(sort="startTime", start=1, size=2))
    assert [r.workflow_id for r in page.results] == ["wf-2", "wf-3"]
    assert page.total_hits == 5
    past_the_end = await populated.search_runs(runs_query(start=10, size=2))
    assert past_the_end.results == [] and past_the_end.total_hits == 5
    last = await populated.search_runs(runs_query(start=4, size=2))
    assert [r.workflow_id for r in last.results] == ["wf-1"] and last.total_hits == 5


async def test_pages_from_a_run_older_and_newer(populated: Store) -> None:
    async def page_ids(**bounds: RunPosition) -> tuple[list[str], int]:
        page = await populated.search_runs(SearchRequest(size=2, **bounds))
        return [run.workflow_id for run in page.results], page.total_hits

    assert await page_ids(older_than=RunPosition(4000, "wf-4")) == (["wf-3", "wf-2"], 3)
    assert await page_ids(older_than=RunPosition(2000, "wf-2")) == (["wf-1"], 1)
    # Newer: the runs just before that one, still newest first.
    assert await page_ids(newer_than=RunPosition(2000, "wf-2")) == (["wf-4", "wf-3"], 3)
    assert await page_ids(newer_than=RunPosition(4000, "wf-4")) == (["wf-5"], 1)
    # The id breaks a tie on the start time, as the default order does.
    same_time = make_run("wf-3b", name="refund", create_time=3000)
    await start(populated, same_time, [])
    assert await page_ids(older_than=RunPosition(3000, "wf-3b")) == (["wf-3", "wf-2"], 3)
    assert await page_ids(newer_than=RunPosition(3000, "wf-3")) == (["wf-4", "wf-3b"], 3)
    filtered = await populated.search_runs(
        SearchRequest(query=parse_query("workflowType = order", WORKFLOW_FIELDS), older_than=RunPosition(5000, "wf-5"))
    )
    assert [run.workflow_id for run in filtered.results] == ["wf-2", "wf-1"]
    uncounted = await populated.search_runs(SearchRequest(size=3, with_total=False))
    assert len(uncounted.results) == 3 and uncounted.total_hits == 3


async def test_status_counts_in_one_grouped_count(populated: Store) -> None:
    assert await populated.count_runs_by_status(runs_query()) == {
        "COMPLETED": 1,
        "RUNNING": 2,
        "FAILED": 1,
        "TERMINATED": 1,
    }
    assert await populated.count_runs_by_status(runs_query("workflowType = order")) == {
        "COMPLETED": 1,
        "RUNNING": 1,
        "TERMINATED": 1,
    }
    assert await populated.count_runs_by_status(runs_query("startTime >= 3000", free_text="wf-3")) == {"FAILED": 1}
    assert await populated.count_runs_by_status(runs_query("workflowType = none")) == {}


async def test_entity_id_finds_the_runs_about_an_entity(populated: Store) -> None:
    acme = await populated.entity_for("business", "acme", "ent-acme", 10)
    other = await populated.entity_for("business", "other", "ent-other", 10)
    for workflow_id, entity in (("wf-2", acme), ("wf-4", acme), ("wf-3", other)):
        record = CaseRecord(workflow_id=workflow_id, workflow_name="order", created_at=10, entity_id=entity.entity_id)
        assert await populated.add_case(record)
    assert await ids(populated, "entityId = 'ent-acme'") == ["wf-4", "wf-2"]
    assert await ids(populated, "entityId IN (ent-acme, ent-other) AND status = RUNNING") == ["wf-4", "wf-2"]
    # Runs about no entity are not about this one either.
    assert await ids(populated, "entityId != 'ent-acme'") == ["wf-5", "wf-3", "wf-1"]
    assert await ids(populated, "entityId = 'x'' OR 1=1 --'") == []
    # Sorting by it reads it per run (where runs without one go differs between the stores).
    assert len(await ids(populated, "entityId IN (ent-acme, ent-other)", sort="entityId:ASC")) == 3
    assert await populated.count_runs_by_status(runs_query("entityId = 'ent-acme'")) == {"RUNNING": 2}


async def test_results_are_run_headers(populated: Store) -> None:
    page = await populated.search_runs(runs_query("workflowId = wf-3"))
    (run,) = page.results
    assert run.status is WorkflowStatus.FAILED and run.end_time == 3500
    assert run.input["customer"] == "cust-wf-3"
    assert run.tasks == []


async def test_search_tasks(populated: Store) -> None:
    async def task_ids(query: str = "", free_text: str = "", sort: str = "") -> list[str]:
        page = await populated.search_tasks(
            SearchRequest(
                query=parse_query(query, TASK_FIELDS),
                free_text=free_text_terms(free_text),
                sort=parse_sort(sort, TASK_FIELDS),
            )
        )
        assert page.total_hits == len(page.results)
        return [task.task_id for task in page.results]

    assert await task_ids() == ["wf-5-t1", "wf-4-t1", "wf-3-t1", "wf-2-t1", "wf-1-t1"]
    assert await task_ids("taskType = refund_step") == ["wf-4-t1", "wf-3-t1"]
    assert await task_ids("workflowType = order AND status = SCHEDULED") == ["wf-5-t1", "wf-2-t1", "wf-1-t1"]
    assert await task_ids("correlationId = c-1") == ["wf-4-t1", "wf-1-t1"]
    assert await task_ids("workflowId = wf-2") == ["wf-2-t1"]
    assert await task_ids("scheduledTime > 3000") == ["wf-5-t1", "wf-4-t1"]
    assert await task_ids("startTime > 0") == []
    assert await task_ids("taskDefName = order_step AND referenceTaskName = 'wf-1-t1_ref'") == ["wf-1-t1"]
    assert await task_ids(free_text="wf-3-t1") == ["wf-3-t1"]
    assert await task_ids(sort="scheduledTime:ASC") == ["wf-1-t1", "wf-2-t1", "wf-3-t1", "wf-4-t1", "wf-5-t1"]


async def test_running_run_ids(populated: Store) -> None:
    await start(populated, make_run("wf-6", name="order", version=2, create_time=6000))
    running = populated.running_run_ids
    assert await running("order", version=None, start_from=None, start_to=None) == ["wf-2", "wf-6"]
    assert await running("order", version=2, start_from=None, start_to=None) == ["wf-6"]
    assert await running("order", version=None, start_from=2500, start_to=None) == ["wf-6"]
    assert await running("order", version=None, start_from=None, start_to=2000) == ["wf-2"]
    assert await running("nope", version=None, start_from=None, start_to=None) == []


async def test_total_hits_is_capped(store: Store) -> None:
    page = await store.search_runs(runs_query(size=1))
    assert page.total_hits == 0
    assert TOTAL_HITS_CAP == 10_000  # documented in the API; a change must be a decision


async def test_delete_finished_before_takes_finished_runs_with_everything_they_own(store: Store) -> None:
    old_done = finished(make_run("old-done", idempotency_key="k-old", create_time=1000), WorkflowStatus.COMPLETED, 2000)
    old_failed = finished(make_run("old-failed", create_time=1100), WorkflowStatus.FAILED, 2100)
    old_running = make_run("old-running", create_time=900, idempotency_key="k-running")
    recent_done = finished(make_run("recent-done", create_time=1000), WorkflowStatus.COMPLETED, 8000)
    paused = make_run("paused", create_time=500)
    paused.status = WorkflowStatus.PAUSED
    for run in (old_done, old_failed, old_running, recent_done, paused):
        queued = make_task(run, f"{run.workflow_id}-q")
        timed = make_task(run, f"{run.workflow_id}-w", seq=2, status=TaskStatus.IN_PROGRESS, task_type="WAIT")
        timed.visible_at = 99_999
        await start(store, run, [queued, timed])

    assert await store.delete_finished_before(5000, limit=1) == 1
    assert await store.delete_finished_before(5000, limit=100) == 1
    assert await store.delete_finished_before(5000, limit=100) == 0

    for gone in ("old-done", "old-failed"):
        assert await store.get_run(gone) is None
        assert await store.get_task(f"{gone}-q") is None
    for kept in ("old-running", "recent-done", "paused"):
        assert await store.get_run(kept) is not None
    assert await store.queue_sizes() == {"work": 3}
    assert {t.task_id for t in await store.due_timers(100_000, 100)} == {
        "old-running-w",
        "recent-done-w",
        "paused-w",
    }
    # The deleted run's idempotency key is free again; the running one's is not.
    fresh = make_run("fresh", idempotency_key="k-old")
    assert (await start(store, fresh)).created
    again = make_run("again", idempotency_key="k-running")
    assert not (await start(store, again)).created


async def test_free_text_follows_a_reopened_run_with_new_input(store: Store) -> None:
    await start(store, make_run("wf-r", correlation_id="first-corr"))

    def end(run: Workflow, _definition: object) -> Decision:
        return Decision(workflow=finished(run, WorkflowStatus.COMPLETED, 2000))

    def rerun(run: Workflow, _definition: object) -> Decision:
        reopened = msgspec.structs.replace(
            run, status=WorkflowStatus.RUNNING, end_time=0, input={"fresh": "brand-new-input"}, correlation_id="again"
        )
        return Decision(workflow=reopened)

    await store.transact("wf-r", end)
    assert await ids(store, free_text="first-corr") == ["wf-r"]
    await store.transact("wf-r", rerun)
    assert await ids(store, free_text="brand-new-input") == ["wf-r"]
    assert await ids(store, free_text="again") == ["wf-r"]
    assert await ids(store, free_text="first-corr") == []
