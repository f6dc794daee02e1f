"""The store contract (``baton/store/roles.py``) for workflow and task definitions, run against every backend."""

from __future__ import annotations

import pytest

from baton.errors import ConflictError
from baton.model import TaskDef
from baton.store import Store
from tests.store.store_builders import make_def

pytestmark = pytest.mark.timeout(60)

# -- definitions -------------------------------------------------------------------


async def test_workflow_defs_by_version_and_latest(store: Store) -> None:
    await store.put_workflow_defs([make_def("a", 1), make_def("a", 3), make_def("b", 2)], overwrite=False)

    assert (await store.get_workflow_def("a")) == make_def("a", 3)
    assert (await store.get_workflow_def("a", 1)) == make_def("a", 1)
    assert await store.get_workflow_def("a", 2) is None
    assert await store.get_workflow_def("nope") is None
    assert [(d.name, d.version) for d in await store.list_workflow_defs()] == [("a", 1), ("a", 3), ("b", 2)]
    assert [(d.name, d.version) for d in await store.list_workflow_defs("a")] == [("a", 1), ("a", 3)]

    assert await store.delete_workflow_def("a", 3) is True
    assert await store.delete_workflow_def("a", 3) is False
    assert (await store.get_workflow_def("a")) == make_def("a", 1)


async def test_workflow_def_conflict_stores_none(store: Store) -> None:
    await store.put_workflow_defs([make_def("a", 1, description="first")], overwrite=False)

    with pytest.raises(ConflictError, match=r"^Workflow with a\.1 already exists!$"):
        await store.put_workflow_defs([make_def("new", 1), make_def("a", 1, description="second")], overwrite=False)

    assert await store.get_workflow_def("new") is None
    found = await store.get_workflow_def("a", 1)
    assert found is not None and found.description == "first"


async def test_workflow_def_overwrite_replaces(store: Store) -> None:
    await store.put_workflow_defs([make_def("a", 1, description="first")], overwrite=False)
    await store.put_workflow_defs([make_def("a", 1, description="second"), make_def("b")], overwrite=True)

    found = await store.get_workflow_def("a", 1)
    assert found is not None and found.description == "second"
    assert await store.get_workflow_def("b") == make_def("b")


async def test_task_defs_crud(store: Store) -> None:
    await store.put_task_defs([TaskDef(name="t1", retry_count=5), TaskDef(name="t2")])

    assert await store.get_task_defs(["t1", "missing"]) == {"t1": TaskDef(name="t1", retry_count=5)}
    assert await store.get_task_defs([]) == {}
    assert [d.name for d in await store.list_task_defs()] == ["t1", "t2"]

    await store.put_task_defs([TaskDef(name="t1", retry_count=1)])
    assert (await store.get_task_defs(["t1"]))["t1"].retry_count == 1

    with pytest.raises(ConflictError, match="t2"):
        await store.put_task_defs([TaskDef(name="t3"), TaskDef(name="t2", retry_count=9)], overwrite=False)
    assert set(await store.get_task_defs(["t2", "t3"])) == {"t2"}
    assert (await store.get_task_defs(["t2"]))["t2"].retry_count == 3

    assert await store.delete_task_def("t1") is True
    assert await store.delete_task_def("t1") is False
    assert [d.name for d in await store.list_task_defs()] == ["t2"]
