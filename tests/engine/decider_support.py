"""A tiny in-memory stand-in for the store, for driving the decider in tests.

``Harness`` applies each decision the way the store does: the run header from
``decision.workflow``, ``decision.created`` inserted, ``decision.updated``
replaced by id and ``decision.removed`` deleted; ``decision.workflow.tasks`` is ignored, so a decision that
forgets a changed task shows up as a wrong run. It also checks the rules the
store relies on (each task at most once in created+updated, updated tasks exist,
created ones do not).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import msgspec

from baton.engine import (
    DecideContext,
    Decision,
    Event,
    RunTimerFired,
    TaskResultReceived,
    TaskStatusByRef,
    Terminate,
    TimerFired,
    apply,
    start,
)
from baton.model import (
    Task,
    TaskDef,
    TaskResult,
    TaskResultStatus,
    TaskStatus,
    Workflow,
    WorkflowDef,
    WorkflowStatus,
    WorkflowTask,
)

T0 = 1_700_000_000_000


def simple(ref: str, *, name: str | None = None, **kw: Any) -> WorkflowTask:
    return WorkflowTask(name=name or f"{ref}_task", task_reference_name=ref, **kw)


def system(kind: str, ref: str, **kw: Any) -> WorkflowTask:
    return WorkflowTask(name=ref, task_reference_name=ref, type=kind, **kw)


def task_def(name: str = "t", **kw: Any) -> TaskDef:
    return TaskDef(name=name, **kw)


def workflow(*tasks: WorkflowTask, **kw: Any) -> WorkflowDef:
    return WorkflowDef(name=kw.pop("name", "flow"), tasks=list(tasks), **kw)


class Harness:
    """One run, its tasks, a clock and an id source."""

    def __init__(
        self,
        definition: WorkflowDef,
        workflow_input: dict[str, Any] | None = None,
        *,
        check_determinism: bool = False,
        script_timeout_ms: int = 500,
        **run: Any,
    ):
        self.definition = definition
        self.script_timeout_ms = script_timeout_ms
        self.now = T0
        self.check_determinism = check_determinism
        self._next_id = 1
        self.decisions: list[Decision] = []
        self.history: list[dict[str, Any]] = []
        """Each decision with everything needed to replay it (see ``replay``)."""
        header = Workflow(
            workflow_id="wf-1",
            workflow_name=definition.name,
            workflow_version=definition.version,
            input=workflow_input or {},
            **run,
        )
        self.run = header
        self.tasks: dict[str, Task] = {}
        self.last = self._decide(lambda ctx: start(definition, header, ctx), header, None)

    def ctx(self) -> DecideContext:
        """A context whose ids continue the run's sequence; ids it hands out are used up."""
        counter = itertools.count(self._next_id)

        def new_id() -> str:
            number = next(counter)
            self._next_id = max(self._next_id, number + 1)
            return f"task-{number}"

        return DecideContext(now=self.now, new_id=new_id, script_timeout_ms=self.script_timeout_ms)

    def _decide(self, step: Callable[[DecideContext], Decision], run: Workflow, event: Event | None) -> Decision:
        first_id = self._next_id
        decision = step(self.ctx())
        self.history.append(
            {
                "now": self.now,
                "firstId": first_id,
                "run": run,
                "event": None if event is None else {"kind": type(event).__name__, **msgspec.to_builtins(event)},
                "decision": decision,
            }
        )
        if self.check_determinism:
            used_up = self._next_id
            self._next_id = first_id
            assert step(self.ctx()) == decision, "the same inputs gave a different decision"
            assert self._next_id == used_up
        return self._commit(decision)

    def _commit(self, decision: Decision) -> Decision:
        self.decisions.append(decision)
        if decision.refusal is not None:
            return decision
        created = [t.task_id for t in decision.created]
        updated = [t.task_id for t in decision.updated]
        assert len(set(created) | set(updated)) == len(created) + len(updated), "a task listed twice"
        for task_id in decision.removed:
            assert task_id in self.tasks and task_id not in updated, f"removed an unknown or updated task: {task_id}"
            del self.tasks[task_id]
        if decision.definition is not None:
            self.definition = decision.definition
        for task in decision.created:
            assert task.task_id not in self.tasks, f"created twice: {task.task_id}"
            self.tasks[task.task_id] = task
        for task in decision.updated:
            assert task.task_id in self.tasks, f"updated an unknown task: {task.task_id}"
            self.tasks[task.task_id] = task
        ordered = sorted(self.tasks.values(), key=lambda t: t.seq)
        seqs = [t.seq for t in ordered]
        # Unique, not contiguous: keepLastN removes a loop's older iterations from the middle.
        assert len(set(seqs)) == len(seqs), f"two tasks share a seq: {seqs}"
        self.run = msgspec.structs.replace(decision.workflow, tasks=ordered)
        assert [t.task_id for t in decision.workflow.tasks] == [t.task_id for t in ordered]
        return decision

    def apply(self, event: Event) -> Decision:
        run = self.run
        self.last = self._decide(lambda ctx: apply(self.definition, run, event, ctx), run, event)
        return self.last

    # -- reading --------------------------------------------------------------

    @property
    def status(self) -> WorkflowStatus:
        return self.run.status

    def task(self, ref: str) -> Task:
        """The latest attempt of a reference name."""
        found = [t for t in self.run.tasks if t.reference_task_name == ref]
        assert found, f"no task {ref}; have {[t.reference_task_name for t in self.run.tasks]}"
        return max(found, key=lambda t: (t.iteration, t.retry_count, t.seq))

    def attempts(self, ref: str) -> list[Task]:
        return [t for t in self.run.tasks if t.reference_task_name == ref]

    def refs(self) -> list[str]:
        return [t.reference_task_name for t in self.run.tasks]

    def pending_worker_tasks(self) -> list[Task]:
        return [t for t in self.run.tasks if t.status is TaskStatus.SCHEDULED and t.is_worker_task]

    # -- acting like the store and a worker -----------------------------------

    def advance(self, ms: int) -> None:
        self.now += ms

    def claim(self, ref: str, worker: str = "w1") -> Task:
        """What ``Store.claim_tasks`` does to a queued task."""
        task = self.task(ref)
        assert task.status is TaskStatus.SCHEDULED and task.is_queued_task
        assert task.visible_at <= self.now, "claimed before it is visible"
        rts = task.response_timeout_seconds
        claimed = msgspec.structs.replace(
            task,
            status=TaskStatus.IN_PROGRESS,
            worker_id=worker,
            poll_count=task.poll_count + 1,
            start_time=task.start_time if task.poll_count > 0 else self.now,
            update_time=self.now,
            lease_expires_at=self.now + rts * 1000 if rts > 0 else 0,
        )
        self.tasks[task.task_id] = claimed
        self.run = msgspec.structs.replace(self.run, tasks=sorted(self.tasks.values(), key=lambda t: t.seq))
        return claimed

    def report(
        self,
        ref_or_task: str | Task,
        status: TaskResultStatus = TaskResultStatus.COMPLETED,
        output: dict[str, Any] | None = None,
        **kw: Any,
    ) -> Decision:
        task = self.task(ref_or_task) if isinstance(ref_or_task, str) else ref_or_task
        result = TaskResult(
            task_id=task.task_id,
            status=status,
            workflow_instance_id=self.run.workflow_id,
            output_data=output or {},
            **kw,
        )
        return self.apply(TaskResultReceived(result=result))

    def complete(self, ref: str, output: dict[str, Any] | None = None) -> Decision:
        self.claim(ref)
        return self.report(ref, TaskResultStatus.COMPLETED, output)

    def fail(self, ref: str, reason: str = "boom", *, terminal: bool = False) -> Decision:
        self.claim(ref)
        status = TaskResultStatus.FAILED_WITH_TERMINAL_ERROR if terminal else TaskResultStatus.FAILED
        return self.report(ref, status, reason_for_incompletion=reason)

    def fire(self, ref_or_task: str | Task) -> Decision:
        task = self.task(ref_or_task) if isinstance(ref_or_task, str) else ref_or_task
        return self.apply(TimerFired(task_id=task.task_id))

    def signal(
        self, ref: str, status: TaskResultStatus = TaskResultStatus.COMPLETED, output: dict[str, Any] | None = None
    ) -> Decision:
        return self.apply(TaskStatusByRef(reference_task_name=ref, status=status, output=output or {}))

    def terminate(self, reason: str | None = None) -> Decision:
        return self.apply(Terminate(reason=reason))


def assert_rearmed(decision: Decision, task: Task) -> None:
    """A timer that fired before anything was due: the task is written back unchanged, nothing else happens."""
    assert decision.refusal is None
    assert not decision.created and not decision.alerts
    assert decision.updated == [task]
    assert decision.workflow.status is WorkflowStatus.RUNNING


_EVENT_TYPES: dict[str, type[Any]] = {
    cls.__name__: cls for cls in (TaskResultReceived, TaskStatusByRef, TimerFired, RunTimerFired, Terminate)
}


def history_document(h: Harness) -> bytes:
    """A run's recorded decisions as JSON, to commit and replay."""
    return msgspec.json.format(msgspec.json.encode({"definition": h.definition, "steps": h.history}), indent=1)


def replay(document: bytes) -> list[tuple[Decision, Decision]]:
    """Each recorded decision beside the one the decider makes now from the same inputs."""
    raw = msgspec.json.decode(document)
    definition = msgspec.convert(raw["definition"], WorkflowDef)
    pairs: list[tuple[Decision, Decision]] = []
    for entry in raw["steps"]:
        run = msgspec.convert(entry["run"], Workflow)
        counter = itertools.count(entry["firstId"])
        ctx = DecideContext(now=entry["now"], new_id=lambda c=counter: f"task-{next(c)}", script_timeout_ms=500)
        recorded = msgspec.convert(entry["decision"], Decision)
        if entry["event"] is None:
            pairs.append((recorded, start(definition, run, ctx)))
            continue
        fields = dict(entry["event"])
        event = msgspec.convert(fields, _EVENT_TYPES[fields.pop("kind")])
        pairs.append((recorded, apply(definition, run, event, ctx)))
    return pairs
