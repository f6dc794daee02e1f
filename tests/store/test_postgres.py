"""PostgreSQL under real concurrency: many connections, and several stores (processes) on one database."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import msgspec
import pytest

from baton.engine.decision import Decision
from baton.errors import ConflictError, StoreError
from baton.model import Task, TaskStatus, Workflow, WorkflowDef
from baton.store import ClaimRequest, DecisionStep, StartResult, Store, open_store
from baton.store.postgres import PostgresStore
from baton.store.postgres.queries import CLAIM_TASKS, CREATE_RUN, READ_RUN_FOR_DECISION, WRITE_DECISION
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def other_pg_store(postgres_url: str) -> AsyncIterator[Store]:
    """A second store on the same database: another Baton process."""
    opened = open_store(postgres_url, pool_max_size=10)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def test_concurrent_claimers_never_share_a_task(pg_store: Store, other_pg_store: Store) -> None:
    for r in range(20):
        run = make_run(f"wf-{r}", priority=r % 3)
        await start(pg_store, run, [make_task(run, f"t-{r}-{i}", seq=i) for i in range(10)])

    async def claimer(store: Store, n: int) -> list[str]:
        got: list[str] = []
        while batch := await store.claim_tasks("work", worker_id=f"w{n}", count=3, now=1_000):
            got.extend(t.task_id for t in batch)
        return got

    results = await asyncio.gather(*(claimer(pg_store if n % 2 else other_pg_store, n) for n in range(20)))

    claimed = [task_id for got in results for task_id in got]
    duplicates = [task_id for task_id, n in Counter(claimed).items() if n > 1]
    assert duplicates == []
    assert len(claimed) == 200
    assert await pg_store.queue_sizes() == {}
    for got, n in zip(results, range(20), strict=True):
        for task_id in got[:3]:
            task = await pg_store.get_task(task_id)
            assert task is not None and task.status is TaskStatus.IN_PROGRESS and task.worker_id == f"w{n}"


def _cancel_open_tasks(seen: list[Workflow]) -> DecisionStep:
    def step(run: Workflow, definition: WorkflowDef) -> Decision:
        seen.append(msgspec.structs.replace(run, tasks=[msgspec.structs.replace(t) for t in run.tasks]))
        cancelled = [
            msgspec.structs.replace(t, status=TaskStatus.CANCELED) for t in run.tasks if not t.status.is_terminal
        ]
        return Decision(workflow=run, updated=cancelled)

    return step


def _in_another_process(url: str, work: Callable[[Store], Awaitable[None]]) -> None:
    """``work`` on a store of its own, on a thread and event loop of its own, as another process would."""

    async def run() -> None:
        other = PostgresStore(url, max_size=1)
        await other.open()
        try:
            await work(other)
        finally:
            await other.close()

    thread = threading.Thread(target=asyncio.run, args=(run(),))
    thread.start()
    thread.join()


def _claim_in_another_process(url: str, task_type: str) -> list[str]:
    claimed: list[str] = []

    async def claim(other: Store) -> None:
        claimed.extend(t.task_id for t in await other.claim_tasks(task_type, worker_id="w", count=1, now=5))

    _in_another_process(url, claim)
    return claimed


async def test_a_decision_made_before_a_claim_is_made_again(pg_store: Store, postgres_url: str) -> None:
    """A claim lands between a decision's load and its write: the decision is made again on the claimed task."""
    run = make_run()
    await start(pg_store, run, [make_task(run, "t1")])
    claimed: list[str] = []
    seen: list[list[TaskStatus]] = []

    def step(loaded: Workflow, definition: WorkflowDef) -> Decision:
        seen.append([t.status for t in loaded.tasks])
        if len(seen) == 1:
            claimed.extend(_claim_in_another_process(postgres_url, "work"))
        cancelled = msgspec.structs.replace(loaded.tasks[0], status=TaskStatus.CANCELED)
        return Decision(workflow=loaded, created=[make_task(loaded, "t2", seq=2)], updated=[cancelled])

    await pg_store.transact("wf-1", step)

    assert claimed == ["t1"]
    assert seen == [[TaskStatus.SCHEDULED], [TaskStatus.IN_PROGRESS]]
    stored = await pg_store.get_run("wf-1")
    assert stored is not None
    assert [(t.task_id, t.status) for t in stored.tasks] == [
        ("t1", TaskStatus.CANCELED),
        ("t2", TaskStatus.SCHEDULED),
    ]
    assert (stored.tasks[0].poll_count, stored.tasks[0].worker_id) == (1, "w")  # the claim was not overwritten
    assert await pg_store.queue_sizes() == {"work": 1}


async def test_a_decision_waits_for_a_claim_in_flight(pg_store: Store, postgres_url: str) -> None:
    """A claim holds a task the decision updates: the decision waits, then is made again on the claimed task."""
    run = make_run()
    await start(pg_store, run, [make_task(run, "t1")])
    conn = await asyncpg.connect(postgres_url)
    try:
        # A claim in flight: it holds the task row and has not committed yet.
        claim = conn.transaction()
        await claim.start()
        await conn.execute("SELECT 1 FROM tasks WHERE task_id = 't1' FOR NO KEY UPDATE")
        seen: list[TaskStatus] = []

        def step(loaded: Workflow, definition: WorkflowDef) -> Decision:
            seen.append(loaded.tasks[0].status)
            cancelled = msgspec.structs.replace(loaded.tasks[0], status=TaskStatus.CANCELED)
            return Decision(workflow=loaded, updated=[cancelled])

        decision = asyncio.create_task(pg_store.transact("wf-1", step))
        await asyncio.sleep(0.3)
        assert not decision.done()
        task = await pg_store.get_task("t1")
        assert task is not None
        claimed = msgspec.structs.replace(task, status=TaskStatus.IN_PROGRESS, poll_count=1)
        await conn.execute(
            "UPDATE tasks SET status = 'IN_PROGRESS', body = $1 WHERE task_id = 't1'",
            msgspec.json.encode(claimed).decode(),
        )
        await conn.execute("DELETE FROM queue WHERE task_id = 't1'")
        await claim.commit()
        await decision
    finally:
        await conn.close()

    assert seen[-1] is TaskStatus.IN_PROGRESS
    task = await pg_store.get_task("t1")
    assert task is not None and task.status is TaskStatus.CANCELED and task.poll_count == 1
    assert await pg_store.queue_sizes() == {}


async def test_a_decision_read_before_another_committed_is_made_again(pg_store: Store, postgres_url: str) -> None:
    """Another process decides on the run between a decision's read and its write: nothing of the stale
    decision is written, and it is made again on the run as the other left it."""
    run = make_run()
    await start(pg_store, run, [make_task(run, "t1")])
    seen: list[list[str]] = []

    def append(loaded: Workflow, definition: WorkflowDef) -> Decision:
        seq = len(loaded.tasks) + 1
        return Decision(workflow=loaded, created=[make_task(loaded, f"t{seq}", seq=seq, task_type="NOOP")])

    async def decide_there(other: Store) -> None:
        await other.transact("wf-1", append)

    def step(loaded: Workflow, definition: WorkflowDef) -> Decision:
        seen.append([t.task_id for t in loaded.tasks])
        if len(seen) == 1:
            _in_another_process(postgres_url, decide_there)
        return append(loaded, definition)

    decision, claimed = await pg_store.transact_then_claim("wf-1", step, lambda d: ClaimRequest("work", "w", 1, 10_000))

    assert seen == [["t1"], ["t1", "t2"]]
    assert [t.task_id for t in decision.created] == ["t3"]
    assert [t.task_id for t in claimed] == ["t1"]
    stored = await pg_store.get_run("wf-1")
    assert stored is not None
    assert [(t.task_id, t.seq) for t in stored.tasks] == [("t1", 1), ("t2", 2), ("t3", 3)]
    assert await pg_store.queue_sizes() == {}


async def test_claims_racing_decisions_stay_consistent(pg_store: Store, other_pg_store: Store) -> None:
    runs = [make_run(f"wf-{i}") for i in range(40)]
    for run in runs:
        await start(pg_store, run, [make_task(run, f"{run.workflow_id}-t")])
    seen: list[Workflow] = []
    step = _cancel_open_tasks(seen)

    async def claim_all() -> list[str]:
        got: list[str] = []
        for _ in range(40):
            got.extend(t.task_id for t in await other_pg_store.claim_tasks("work", worker_id="w", count=2, now=5))
        return got

    async def cancel_all() -> None:
        for run in runs:
            await pg_store.transact(run.workflow_id, step)

    claimed, _ = await asyncio.gather(claim_all(), cancel_all())

    assert len(set(claimed)) == len(claimed)
    assert await pg_store.queue_sizes() == {}
    for run in runs:
        task = await pg_store.get_task(f"{run.workflow_id}-t")
        assert task is not None and task.status is TaskStatus.CANCELED
        # A claimed task keeps its claim's fields: no decision overwrote it with what it loaded before.
        assert (task.poll_count, task.worker_id) == ((1, "w") if task.task_id in claimed else (0, None))


async def test_decisions_from_two_processes_on_one_run_serialise(pg_store: Store, other_pg_store: Store) -> None:
    await start(pg_store, make_run())

    def append(loaded: Workflow, definition: WorkflowDef) -> Decision:
        seq = len(loaded.tasks) + 1
        return Decision(workflow=loaded, created=[make_task(loaded, f"t{seq}", seq=seq, task_type="NOOP")])

    await asyncio.gather(*(s.transact("wf-1", append) for s in [pg_store, other_pg_store] * 15))

    stored = await pg_store.get_run("wf-1")
    assert stored is not None
    assert [t.seq for t in stored.tasks] == list(range(1, 31))


async def test_one_key_across_two_processes_makes_one_run(pg_store: Store, other_pg_store: Store) -> None:
    async def attempt(i: int) -> StartResult:
        store = pg_store if i % 2 else other_pg_store
        return await start(store, make_run(f"wf-{i}", idempotency_key="k"))

    results = await asyncio.gather(*(attempt(i) for i in range(50)))

    assert len({r.workflow_id for r in results}) == 1
    assert sum(r.created for r in results) == 1


async def test_unreachable_database_is_a_store_error() -> None:
    store = PostgresStore("postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=1", open_timeout=1)
    with pytest.raises(StoreError):
        await store.open()
    with pytest.raises(StoreError, match="not open"):
        await store.get_run("x")


async def test_duplicate_run_id_is_a_conflict_not_a_driver_error(pg_store: Store) -> None:
    await start(pg_store, make_run())
    with pytest.raises(ConflictError):
        await start(pg_store, make_run())


def test_sql_claim_rewrites_the_fields_the_shared_rule_changes() -> None:
    """CLAIM_TASKS names body fields by their JSON names: they must be the ones ``plans.claimed`` changes."""
    from baton.store.common import plans
    from baton.store.postgres.queries import CLAIM_REWRITTEN_FIELDS

    run = make_run()
    before = make_task(run, "t1")
    after = plans.claimed(before, worker_id="w", now=1)
    changed = {
        f.encode_name
        for f in msgspec.structs.fields(Task)
        if getattr(before, f.name) != getattr(after, f.name) or f.name == "lease_expires_at"
    }
    assert changed == set(CLAIM_REWRITTEN_FIELDS)
    names = {f.encode_name for f in msgspec.structs.fields(Task)}
    assert "responseTimeoutSeconds" in names


async def test_a_url_with_libpqs_connect_timeout_opens(postgres_url: str) -> None:
    """asyncpg would pass ``connect_timeout`` to the server as a setting; the store takes it as the timeout."""
    separator = "&" if "?" in postgres_url else "?"
    store = PostgresStore(f"{postgres_url}{separator}connect_timeout=5", max_size=1)
    await store.open()
    try:
        assert await store.get_run("x") is None
    finally:
        await store.close()


async def test_starts_and_decisions_are_planned_once_per_connection(postgres_url: str) -> None:
    """Their statements keep one generic plan per connection: none is planned again for its parameters.

    The decisions go through a second store, which has no copy of the runs, so each reads its run first.
    """
    store = PostgresStore(postgres_url, max_size=1)
    decider = PostgresStore(postgres_url, max_size=1)
    await store.open()
    await decider.open()
    try:
        for i in range(8):
            run = make_run(f"wf-{i}")
            await start(store, run, [make_task(run, f"t{i}")])
        for i in range(8):
            claim = ClaimRequest("work", "w", i % 3, 10_000)
            await decider.transact_then_claim(f"wf-{i}", _cancel_open_tasks([]), lambda d, c=claim: c)
        plans = []
        for owner, statements in ((store, [CREATE_RUN]), (decider, [READ_RUN_FOR_DECISION, WRITE_DECISION])):
            async with owner._decision_connection() as conn:
                plans += await conn.fetch(
                    "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
                    " WHERE statement = ANY($1)",
                    statements,
                )
    finally:
        await decider.close()
        await store.close()

    assert {row["statement"]: (row["generic_plans"] > 0, row["custom_plans"]) for row in plans} == {
        CREATE_RUN: (True, 0),
        READ_RUN_FOR_DECISION: (True, 0),
        WRITE_DECISION: (True, 0),
    }


async def test_hot_plans_look_rows_up_by_index_however_small_the_tables(postgres_url: str) -> None:
    """Planned on an empty database, the decision and claim statements' plans still find rows by index: no plan
    made while the tables are small scans them whole once they are not."""
    store = PostgresStore(postgres_url, max_size=1)
    await store.open()
    empty = "'{}'"
    claim = ["'work'", "1", "10", "'w'"]
    decisions = {
        READ_RUN_FOR_DECISION: ["'wf-1'"],
        CLAIM_TASKS: claim,
        WRITE_DECISION: [
            "'RUNNING'", "NULL", "0", "1", "0", "'{}'", "'wf-1'",
            *[empty] * 8, *[empty] * 6, empty, *[empty] * 4,
            "0", *claim, "NULL", empty, empty,
        ],
    }  # fmt: skip

    async def explain(conn: asyncpg.Connection, statements: dict[str, list[str]]) -> list[str]:
        plans = []
        for n, (statement, values) in enumerate(statements.items()):
            await conn.execute(f"PREPARE hot_{n} AS {statement}")
            rows = await conn.fetch(f"EXPLAIN EXECUTE hot_{n}({', '.join(values)})")
            plans.append("\n".join(row[0] for row in rows))
        return plans

    try:
        async with store._decision_connection() as conn:
            plans = await explain(conn, decisions)
        async with store._claim_connection() as conn:
            plans += await explain(conn, {CLAIM_TASKS: claim})
    finally:
        await store.close()

    assert len(plans) == 4
    for plan in plans:
        assert "$1" in plan  # the generic plan, made for any parameters
        assert "Seq Scan" not in plan and "Hash Join" not in plan and "Merge Join" not in plan, plan


async def test_a_claimed_task_body_of_a_few_kilobytes_is_stored_uncompressed(pg_store: Store) -> None:
    """Migration 0007: a body the claim takes past 2 kB is not compressed (nor decompressed by the next read)."""
    run = make_run("wf-big")
    task = msgspec.structs.replace(make_task(run, "t-big"), input_data={"blob": "x" * 1500})
    await start(pg_store, run, [task])
    [claimed] = await pg_store.claim_tasks("work", worker_id="w", count=1, now=5_000)
    assert claimed.input_data == {"blob": "x" * 1500}
    assert isinstance(pg_store, PostgresStore)
    async with pg_store._connection() as conn:
        size, compression = await conn.fetchrow(
            "SELECT octet_length(body), pg_column_compression(body) FROM tasks WHERE task_id = 't-big'"
        )
    assert size > 2100
    assert compression is None


async def test_a_claim_takes_its_lease_and_poll_count_from_the_queue_row(pg_store: Store) -> None:
    """Migration 0008: the queue row carries what a claim reads; a row queued before it (NULLs) reads the body."""
    assert isinstance(pg_store, PostgresStore)
    run = make_run("wf-fields")
    await start(pg_store, run, [make_task(run, "t-row", seq=1), make_task(run, "t-old", seq=2)])
    async with pg_store._connection() as conn:
        queued = await conn.fetch("SELECT task_id, response_timeout_seconds, poll_count FROM queue ORDER BY task_id")
        assert [tuple(row) for row in queued] == [("t-old", 60, 0), ("t-row", 60, 0)]
        # The row's value wins over the body's; a row without values falls back to the body (60 s).
        await conn.execute("UPDATE queue SET response_timeout_seconds = 5 WHERE task_id = 't-row'")
        await conn.execute(
            "UPDATE queue SET response_timeout_seconds = NULL, poll_count = NULL WHERE task_id = 't-old'"
        )
    claimed = await pg_store.claim_tasks("work", worker_id="w", count=2, now=10_000)
    leases = {task.task_id: (task.lease_expires_at, task.poll_count) for task in claimed}
    assert leases == {"t-row": (15_000, 1), "t-old": (70_000, 1)}
