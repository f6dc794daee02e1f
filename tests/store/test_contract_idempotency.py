"""The store contract (``baton/store/roles.py``) for starts with an idempotency key, run against every backend."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from baton.engine.decision import Decision
from baton.errors import ConflictError
from baton.model import IdempotencyStrategy, Workflow, WorkflowDef, WorkflowStatus
from baton.store import StartResult, Store
from tests.store.store_builders import make_run, make_task, start

pytestmark = pytest.mark.timeout(60)

# -- idempotency ---------------------------------------------------------------------


@pytest.mark.parametrize("strategy", [None, IdempotencyStrategy.RETURN_EXISTING])
async def test_idempotency_return_existing(store: Store, strategy: IdempotencyStrategy | None) -> None:
    assert await start(store, make_run("wf-1", idempotency_key="k")) == StartResult(workflow_id="wf-1", created=True)
    result = await start(store, make_run("wf-2", idempotency_key="k"), strategy=strategy)
    assert result == StartResult(workflow_id="wf-1", created=False)
    assert await store.get_run("wf-2") is None


async def test_idempotency_fail(store: Store) -> None:
    await start(store, make_run("wf-1", idempotency_key="k", status=WorkflowStatus.COMPLETED))
    with pytest.raises(ConflictError, match="wf-1"):
        await start(store, make_run("wf-2", idempotency_key="k"), strategy=IdempotencyStrategy.FAIL)
    assert await store.get_run("wf-2") is None


async def test_idempotency_fail_on_running(store: Store) -> None:
    await start(store, make_run("wf-1", idempotency_key="k"))
    with pytest.raises(ConflictError):
        await start(store, make_run("wf-2", idempotency_key="k"), strategy=IdempotencyStrategy.FAIL_ON_RUNNING)
    assert await store.get_run("wf-2") is None

    def finish(loaded: Workflow, definition: WorkflowDef) -> Decision:
        return Decision(workflow=msgspec.structs.replace(loaded, status=WorkflowStatus.COMPLETED))

    await store.transact("wf-1", finish)
    result = await start(store, make_run("wf-3", idempotency_key="k"), strategy=IdempotencyStrategy.FAIL_ON_RUNNING)
    assert result == StartResult(workflow_id="wf-3", created=True)
    # The key moved to the new run.
    assert await start(store, make_run("wf-4", idempotency_key="k")) == StartResult(workflow_id="wf-3", created=False)
    # Deleting the old run leaves the key with the new one.
    assert await store.delete_run("wf-1")
    assert (await start(store, make_run("wf-5", idempotency_key="k"))).workflow_id == "wf-3"


@pytest.mark.parametrize("strategy", [None, IdempotencyStrategy.FAIL, IdempotencyStrategy.FAIL_ON_RUNNING])
async def test_concurrent_starts_with_one_key_make_one_run(store: Store, strategy: IdempotencyStrategy | None) -> None:
    async def attempt(i: int) -> StartResult | None:
        run = make_run(f"wf-{i}", idempotency_key="same")
        try:
            return await start(store, run, [make_task(run, f"t-{i}")], strategy=strategy)
        except ConflictError:
            return None

    results = await asyncio.gather(*(attempt(i) for i in range(50)))

    created = [r for r in results if r is not None and r.created]
    assert len(created) == 1
    winner = created[0].workflow_id
    for r in results:
        if strategy is None:
            assert r is not None and r.workflow_id == winner
        else:
            assert r is None or r == created[0]
    assert await store.queue_sizes() == {"work": 1}


async def test_concurrent_takeovers_of_a_finished_key_make_one_run(store: Store) -> None:
    await start(store, make_run("old", idempotency_key="same", status=WorkflowStatus.COMPLETED))

    async def attempt(i: int) -> StartResult | None:
        try:
            return await start(
                store, make_run(f"wf-{i}", idempotency_key="same"), strategy=IdempotencyStrategy.FAIL_ON_RUNNING
            )
        except ConflictError:
            return None

    results = await asyncio.gather(*(attempt(i) for i in range(50)))
    created = [r for r in results if r is not None]
    assert len(created) == 1 and created[0].created
