"""A run's ending decision reaches the executes watching that run, and only those."""

from __future__ import annotations

from baton.model import Workflow, WorkflowStatus
from baton.service.run_ends import RunEnds


def ended(workflow_id: str) -> Workflow:
    return Workflow(workflow_id=workflow_id, workflow_name="w", workflow_version=1, status=WorkflowStatus.COMPLETED)


def test_an_ended_run_reaches_each_watch_of_it_while_it_watches() -> None:
    ends = RunEnds()
    with ends.watch("a") as first, ends.watch("a") as second, ends.watch("b") as other:
        run = ended("a")
        ends.ended(run)
        assert first.run is run and second.run is run
        assert other.run is None
    ends.ended(ended("a"))  # nobody watches any more: nothing is kept
    assert ends._watches == {}
