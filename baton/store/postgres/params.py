"""The parameters of CREATE_RUN and WRITE_DECISION from a write plan, in their ``$n`` order."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from baton.engine.decision import Decision
from baton.model import Task, Workflow, WorkflowDef
from baton.store.common import plans


async def _plan(decision: Decision, workflow_id: str, loaded: Mapping[str, Task]) -> plans.WritePlan:
    """The decision's rows; a large one's encoded a slice a turn, so the loop is not held for all of them."""
    if plans.is_large(decision):
        return await plans.plan_decision_in_turns(decision, workflow_id=workflow_id, loaded=loaded)
    return plans.plan_decision(decision, workflow_id=workflow_id, loaded=loaded)


def _task_row_params(plan: plans.WritePlan) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, column in zip(
        plans.TASK_INSERT_COLUMNS, plans.columns(plan.task_inserts, len(plans.TASK_INSERT_COLUMNS)), strict=True
    ):
        params[f"new_{name}"] = column
    for name, column in zip(
        plans.QUEUE_UPSERT_COLUMNS, plans.columns(plan.queue_upserts, len(plans.QUEUE_UPSERT_COLUMNS)), strict=True
    ):
        params[f"queue_{name}"] = column
    for name, column in zip(
        plans.QUEUE_CLAIM_FIELD_COLUMNS,
        plans.columns(plan.queue_claim_fields, len(plans.QUEUE_CLAIM_FIELD_COLUMNS)),
        strict=True,
    ):
        params[f"queue_{name}"] = column
    return params


def _new_run_params(run: Workflow, plan: plans.WritePlan, digest: str, definition: WorkflowDef) -> dict[str, Any]:
    params = dict(zip(plans.RUN_INSERT_COLUMNS, plans.run_insert_row(run, digest, definition), strict=True))
    params["snapshot_body"] = None
    params.update(_task_row_params(plan))
    return params


def _decision_params(run: Workflow, plan: plans.WritePlan, definition: WorkflowDef) -> dict[str, Any]:
    params = dict(zip(plans.RUN_UPDATE_COLUMNS, plans.run_update_row(run, definition), strict=True))
    params.update(_task_row_params(plan))
    for name, column in zip(
        plans.TASK_UPDATE_COLUMNS, plans.columns(plan.task_updates, len(plans.TASK_UPDATE_COLUMNS)), strict=True
    ):
        params[f"upd_{name}"] = column
    params["dequeue_task_id"] = [task_id for (task_id,) in plan.queue_deletes]
    return params
