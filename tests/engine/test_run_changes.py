"""A context change made with the step it goes with (``merge_variables``), and the RUN_CHANGED signal a watched
run's decisions write when they may change what it shows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from baton.engine import DecideContext, Decision, SignalKind, TaskResultReceived, UpdateVariables, apply
from baton.model import TaskResult, TaskResultStatus, TaskStatus, Workflow, WorkflowStatus
from tests.engine.decider_support import Harness, simple, system, workflow


class Watched(Harness):
    """A harness whose decisions see some runs' changes and ends watched."""

    changes: frozenset[str] = frozenset({"wf-1"})
    ends: frozenset[str] = frozenset()

    def ctx(self) -> DecideContext:
        return replace(
            super().ctx(),
            run_change_watched=lambda workflow_id: workflow_id in self.changes,
            run_end_watched=lambda workflow_id: workflow_id in self.ends,
        )


class Unwatched(Watched):
    changes = frozenset()


class EndWatched(Watched):
    ends = frozenset({"wf-1"})


def waiting_then_check(harness: type[Harness] = Watched) -> Harness:
    return harness(workflow(system("WAIT", "collect"), simple("check"), system("HUMAN", "review")))


def signal_kinds(decision: Decision) -> list[SignalKind]:
    return [signal.kind for signal in decision.signals]


def merged_result(h: Harness, ref: str, merge: Any, output: dict[str, Any] | None = None) -> Decision:
    """A COMPLETED result for the step, with ``merge`` as its ``merge_variables``, applied to the current run."""
    task = h.task(ref)
    result = TaskResult(
        task_id=task.task_id,
        status=TaskResultStatus.COMPLETED,
        workflow_instance_id=h.run.workflow_id,
        output_data=output or {},
    )
    event = TaskResultReceived(result=result, merge_variables=merge)
    return h._commit(apply(h.definition, h.run, event, h.ctx()))


def add_document(document_id: str) -> Any:
    def merge(run: Workflow) -> dict[str, Any]:
        return {"documents": [*run.variables.get("documents", []), {"id": document_id}]}

    return merge


def test_a_results_variables_change_in_the_decision_that_records_it() -> None:
    h = waiting_then_check()
    decision = merged_result(h, "collect", add_document("bill"), {"got": 1})
    assert decision.refusal is None
    assert h.run.variables == {"documents": [{"id": "bill"}]}
    assert h.task("collect").status is TaskStatus.COMPLETED and h.task("collect").output_data == {"got": 1}
    assert h.task("check").input_data == {}  # and the walk went on from the merged run


def test_a_merge_computes_from_the_run_it_is_decided_on() -> None:
    h = waiting_then_check()
    h.apply(UpdateVariables(variables={"documents": [{"id": "reg"}]}))
    merged_result(h, "collect", add_document("bill"))
    assert h.run.variables == {"documents": [{"id": "reg"}, {"id": "bill"}]}


def test_a_refused_result_changes_no_variables() -> None:
    h = waiting_then_check()
    merged_result(h, "collect", add_document("bill"))
    decision = merged_result(h, "collect", add_document("again"))
    assert decision.refusal is not None
    assert h.run.variables == {"documents": [{"id": "bill"}]}


def test_update_variables_merges_what_it_computes_from_the_locked_run() -> None:
    h = waiting_then_check()
    h.apply(UpdateVariables(variables={"documents": [{"id": "reg"}]}))

    def decide_reg(run: Workflow) -> dict[str, Any]:
        docs = [{**doc, "decision": "approved"} for doc in run.variables["documents"]]
        return {"documents": docs}

    event = UpdateVariables(variables={"n": 1}, merge_variables=decide_reg)
    h._commit(apply(h.definition, h.run, event, h.ctx()))
    assert h.run.variables == {"documents": [{"id": "reg", "decision": "approved"}], "n": 1}


def test_a_watched_run_signals_changes_to_its_waiting_steps_variables_and_status() -> None:
    h = waiting_then_check()
    assert signal_kinds(h.last) == []  # the start is the starting point, not a change
    assert signal_kinds(h.report("collect")) == [SignalKind.RUN_CHANGED]  # a WAIT ended
    h.claim("check")
    assert signal_kinds(h.report("check", output={"passed": True})) == [SignalKind.RUN_CHANGED]  # a HUMAN made
    assert signal_kinds(h.apply(UpdateVariables(variables={"a": 1}))) == [SignalKind.RUN_CHANGED]
    assert signal_kinds(h.apply(UpdateVariables(variables={"a": 1}))) == []  # the same variables: no change
    ended = h.report("review", output={"decision": "approve"})
    assert h.status is WorkflowStatus.COMPLETED
    assert signal_kinds(ended) == [SignalKind.RUN_CHANGED]  # nobody watches the end: the change says it
    [signal] = ended.signals
    assert signal.target_workflow_id == signal.source_workflow_id == "wf-1"


def test_a_worker_step_alone_changes_nothing_watched() -> None:
    h = Watched(workflow(simple("a"), simple("b"), system("WAIT", "collect")))
    h.claim("a")
    assert signal_kinds(h.report("a")) == []
    h.claim("b")
    assert signal_kinds(h.report("b")) == [SignalKind.RUN_CHANGED]  # it made the WAIT


def test_an_ending_decision_watched_for_its_end_writes_the_end_only() -> None:
    h = waiting_then_check(EndWatched)
    h.report("collect")
    h.claim("check")
    h.report("check")
    assert signal_kinds(h.report("review")) == [SignalKind.RUN_ENDED]


def test_a_run_nobody_watches_writes_nothing() -> None:
    h = waiting_then_check(Unwatched)
    assert signal_kinds(h.report("collect")) == []
    h.claim("check")
    assert signal_kinds(h.report("check")) == []
    assert signal_kinds(h.report("review")) == []
