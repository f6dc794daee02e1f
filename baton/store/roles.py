"""The storage interface by role; ``Store`` is their union. SQLite and PostgreSQL implement it; nothing above it
sees SQL. A caller depends on the roles it uses.

Rules every implementation keeps:

* Each write method is one transaction: all of it commits, or none of it.
* ``transact`` serialises decisions on one run (a row lock on PostgreSQL, the
  single writer on SQLite), so two decisions on one run never interleave.
* The work queue and the timers are derived from task rows as they are written:
  a queued task (``task.is_queued_task``: a worker task, or a system task the
  server's executors run, such as HTTP or SUB_WORKFLOW) whose status is SCHEDULED
  is queued for its ``task_type`` with the run's priority, visible from
  ``task.visible_at``; any other task is not queued. A task has a timer at
  ``lease_expires_at`` while it is an IN_PROGRESS queued task with a lease, at
  ``visible_at`` while it is a non-terminal inline system task with
  ``visible_at > 0``, or at the earliest of its timeouts
  (``engine.timeouts.task_timer_at`` holds the whole rule); a run has a timer at
  its WorkflowDef timeout (``engine.timeouts.run_timer_at``).
* A claim with ``ClaimLimits`` counts, in the database and in the claim's
  transaction, the type's tasks claimed under a limit that are still IN_PROGRESS
  and those claimed within the rate window, so the limits hold across any number
  of processes. Tasks claimed while the type had no limit are not counted.
* A decision's ``signals`` are written to the outbox in its transaction; they
  stay there until ``delete_signal``.
* Registration keeps each workflow name's triggers (``model.triggers.triggers_of`` of its latest
  version) in its own transaction, and refuses an http path and method another name starts on.
* Definition snapshots are content-addressed: a run stores the hash of the exact
  definition it runs, so overwriting a registered definition never changes a
  running run.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Protocol

from baton.engine.decision import Decision, Signal
from baton.model import IdempotencyStrategy, PollData, Task, TaskDef, TaskExecLog, Workflow, WorkflowDef
from baton.model.access import AccessKey, Application, KeyStatus
from baton.model.audit import AuditEntry, AuditQuery, NewAuditEntry
from baton.model.cases import CaseDecision, CaseFilter, CasePage, CaseQuery, CaseRecord, Entity
from baton.model.events import EventExecution, EventHandler
from baton.model.metrics import LatencyCount, RunCount
from baton.model.triggers import Trigger
from baton.model.webhooks import DeliveryStatus, Webhook, WebhookDelivery
from baton.store.base import (
    ClaimAfter,
    ClaimLimits,
    DecisionStep,
    DueTimer,
    RunPage,
    RunTaskPage,
    SearchRequest,
    StartResult,
    TaskPage,
    WaitingTask,
)
from baton.store.webhook_records import AttemptOutcome, ClaimedDelivery, NewDelivery, ToldState


class DefinitionStore(Protocol):
    """Registered workflow and task definitions."""

    async def put_workflow_defs(self, defs: list[WorkflowDef], *, overwrite: bool) -> None:
        """Store each definition under (name, version). When one exists and ``overwrite`` is
        false: ConflictError naming it, and none are stored."""

    async def get_workflow_def(self, name: str, version: int | None = None) -> WorkflowDef | None:
        """The given version, or the highest version when ``version`` is None."""

    async def list_workflow_defs(self, name: str | None = None) -> list[WorkflowDef]:
        """All versions (of one name, or of all), ordered by name then version."""

    async def delete_workflow_def(self, name: str, version: int) -> bool: ...

    async def put_task_defs(self, defs: list[TaskDef], *, overwrite: bool = True) -> None:
        """Create or replace; with ``overwrite`` false, ConflictError when one exists."""

    async def get_task_defs(self, names: Collection[str]) -> dict[str, TaskDef]:
        """The registered ones among ``names``; absent names are absent from the result."""

    async def list_task_defs(self) -> list[TaskDef]: ...

    async def delete_task_def(self, name: str) -> bool: ...


class RunStore(Protocol):
    """Runs and their tasks: a start, and what is read of them."""

    async def create_run(
        self,
        decision: Decision,
        definition: WorkflowDef,
        *,
        idempotency_strategy: IdempotencyStrategy | None = None,
    ) -> StartResult:
        """Insert a new run (``decision.workflow``), its definition snapshot, ``decision.created`` and
        ``decision.logs``.

        When ``decision.workflow.idempotency_key`` is set and a run already holds
        that key: RETURN_EXISTING (also the default) gives that run's id with
        ``created=False``; FAIL raises ConflictError; FAIL_ON_RUNNING raises
        ConflictError while that run is RUNNING or PAUSED, and otherwise creates
        the new run and moves the key to it. However many calls race with one
        key, they give exactly one new run.
        """

    async def get_run(
        self, workflow_id: str, *, include_tasks: bool = True, task_limit: int | None = None
    ) -> Workflow | None:
        """The run; with its tasks in ``seq`` order (only the first ``task_limit`` of them when given), read with
        the run in one consistent read."""

    async def get_run_json(self, workflow_id: str, task_limit: int) -> tuple[str, list[tuple[int, str]]] | None:
        """The run's header JSON (its ``tasks`` empty) and ``(seq, JSON)`` of its first ``task_limit`` tasks, in one
        consistent read, as stored (what encoding them gives): a run sent without decoding it. None: no such run."""

    async def run_task_json_after(self, workflow_id: str, after_seq: int, limit: int) -> list[tuple[int, str]]:
        """``(seq, JSON)`` of at most ``limit`` of the run's tasks whose ``seq`` is above ``after_seq``, in ``seq``
        order: a long run sent a page at a time, the JSON as stored (what encoding the task gives), so nothing is
        decoded. Each page is one read: a decision made between two may show in the later one only."""

    async def run_tasks(
        self, workflow_id: str, *, start: int, count: int, statuses: Collection[str] = ()
    ) -> RunTaskPage | None:
        """``count`` of the run's tasks from the ``start``-th (0-based, ``seq`` order), only those in one of
        ``statuses`` when some are given; None when there is no such run."""

    async def get_run_definition(self, workflow_id: str) -> WorkflowDef | None:
        """The definition snapshot the run executes."""

    async def find_runs_by_correlation(
        self, name: str, correlation_id: str, *, include_closed: bool, include_tasks: bool
    ) -> list[Workflow]:
        """Runs of ``name`` with that correlation id, newest first; only RUNNING/PAUSED unless ``include_closed``."""

    async def delete_run(self, workflow_id: str) -> bool:
        """Remove a run with its tasks, queue rows, timers, task logs and idempotency key."""

    async def get_task(self, task_id: str) -> Task | None: ...

    async def workflow_id_of_task(self, task_id: str) -> str | None: ...


class DecisionStore(Protocol):
    """A decision on a run, atomically, and a worker's next claim with it."""

    async def transact(self, workflow_id: str, step: DecisionStep) -> Decision:
        """Run one decision on a run, atomically.

        Loads the run with all its tasks and its definition snapshot, holding a
        lock that serialises decisions on this run; calls ``step``; unless the
        decision has a ``refusal``, deletes ``decision.removed`` (with their
        queue rows, timers and logs), moves the run to ``decision.definition``
        when one is given (its snapshot and version), writes the run header,
        inserts ``decision.created`` and replaces ``decision.updated`` (by
        ``task_id``), with their queue rows and timers; appends
        ``decision.logs``; commits. Returns the decision.
        Raises NotFoundError for an unknown run.
        """

    async def transact_then_claim(
        self, workflow_id: str, step: DecisionStep, claim_after: ClaimAfter
    ) -> tuple[Decision, list[Task]]:
        """``transact``, then ``claim_tasks`` as ``claim_after(decision)`` asks, in one transaction.

        A worker's hand-off: its result and its next task commit together (or
        not at all), at the cost of one transaction instead of two. Nothing is
        claimed when the decision has a ``refusal`` (nothing is written then
        either) or when ``claim_after`` returns None; the claim follows
        ``claim_tasks``'s rules and may take tasks the decision just queued.
        """


class QueueStore(Protocol):
    """The work queue and the timers."""

    async def claim_tasks(
        self, task_type: str, *, worker_id: str | None, count: int, now: int, limits: ClaimLimits | None = None
    ) -> list[Task]:
        """Hand out up to ``count`` queued tasks of ``task_type`` visible at ``now``, within ``limits``.

        Order: the run's priority, highest first; then ``visible_at``; then the
        order they were queued. Each claimed task leaves the queue and becomes
        IN_PROGRESS with ``worker_id``, ``poll_count + 1``, ``start_time = now``
        (on its first claim; later claims keep it), ``update_time = now`` and,
        when its ``response_timeout_seconds`` is
        positive, ``lease_expires_at = now + response_timeout_seconds * 1000``.
        A task that is no longer SCHEDULED (cancelled meanwhile) is not handed
        out. Concurrent claims never hand one task out twice.
        """

    async def queue_sizes(self, task_types: Collection[str] | None = None) -> dict[str, int]:
        """Queued tasks per type (all types with at least one, when ``task_types`` is None)."""

    async def due_timers(self, now: int, limit: int) -> list[DueTimer]:
        """Tasks and runs whose timer is at or before ``now``, earliest first."""


class OutboxStore(Protocol):
    """Signals a decision wrote for other runs, until acted on."""

    async def signals_created_before(self, created_before: int, limit: int) -> list[Signal]:
        """Signals still in the outbox that were written before ``created_before``, oldest first."""

    async def delete_signal(self, signal_id: str) -> None:
        """Remove a signal once acted on; removing one already gone is not an error."""


class TaskLogStore(Protocol):
    """Tasks' log lines."""

    async def add_task_logs(self, task_id: str, logs: Sequence[TaskExecLog]) -> bool:
        """Append log lines to a task, in order; False (and nothing stored) when there is no such task."""

    async def get_task_logs(self, task_id: str) -> list[TaskExecLog] | None:
        """A task's log lines in the order they were added; None when there is no such task."""


class PollDataStore(Protocol):
    """Workers' last polls, per (task type, domain, worker), shared by every server on the database."""

    async def record_polls(self, polls: Sequence[PollData]) -> None:
        """Record these polls; a stored time is only ever replaced by a later one."""

    async def poll_data(self, task_type: str | None = None) -> list[PollData]:
        """The last polls of ``task_type`` (of every type when None), by type, domain and worker."""


class SecretStore(Protocol):
    """Secrets by name, each value sealed (encrypted) by the caller: the store never sees one in the clear."""

    async def put_secret(self, name: str, sealed: str, now: int) -> None:
        """Create the secret, or replace its sealed value."""

    async def delete_secret(self, name: str) -> bool:
        """Delete the secret; False when there was none."""

    async def secret_names(self) -> list[str]:
        """Every secret's name, in order."""

    async def secret_exists(self, name: str) -> bool: ...

    async def sealed_secrets(self, names: Collection[str]) -> dict[str, str]:
        """The sealed values of those of ``names`` that exist."""


class SearchStore(Protocol):
    """Search over runs and tasks, and retention."""

    async def search_runs(self, request: SearchRequest) -> RunPage:
        """Run headers matching ``request``, in its order, ``size`` of them from ``start``.

        ``total_hits`` is exact up to ``TOTAL_HITS_CAP`` and that cap beyond it.
        """

    async def count_runs_by_status(self, request: SearchRequest) -> dict[str, int]:
        """How many runs match ``request``'s query and free text, in each status that has any (exact)."""

    async def search_tasks(self, request: SearchRequest) -> TaskPage:
        """Tasks matching ``request``; with no sort, those of the newest runs first, then by ``seq``."""

    async def running_run_ids(
        self, name: str, *, version: int | None, start_from: int | None, start_to: int | None
    ) -> list[str]:
        """Ids of RUNNING runs of ``name`` (of ``version`` if given) started within the bounds (inclusive).

        Oldest first.
        """

    async def delete_finished_before(self, cutoff: int, limit: int) -> int:
        """Delete up to ``limit`` runs that ended (COMPLETED, FAILED, TIMED_OUT, TERMINATED) before ``cutoff``.

        Their tasks, queue rows, timers and idempotency keys go with them. Returns how many were deleted.
        """


class EventHandlerStore(Protocol):
    """Event handlers (``/api/event``), and what they did with each published event."""

    async def create_event_handler(self, handler: EventHandler) -> None:
        """Store a new handler; ConflictError when one has its name (nothing is changed then)."""

    async def update_event_handler(self, handler: EventHandler) -> bool:
        """Replace the handler of that name; False (nothing stored) when there is none."""

    async def list_event_handlers(self, event: str | None = None, *, active_only: bool = False) -> list[EventHandler]:
        """The handlers (of ``event`` only, when given; only active ones with ``active_only``), by name."""

    async def delete_event_handler(self, name: str) -> bool: ...

    async def add_event_executions(self, executions: Sequence[EventExecution]) -> None:
        """Record what handlers did with a message; an execution whose id is recorded already is left as it was."""

    async def event_executions(self, message_id: str) -> list[EventExecution]:
        """What was recorded for one published message, by execution id."""

    async def delete_event_executions_before(self, cutoff: int, limit: int) -> int:
        """Delete up to ``limit`` executions recorded before ``cutoff``; returns how many were deleted."""


class WaitStore(Protocol):
    """What starts runs from outside (a definition's triggers) and the steps that wait for outside input."""

    async def triggers(self, kind: str, key: str | None = None) -> list[Trigger]:
        """The triggers of that kind (``http`` or ``event``; of that key only when given), as registration wrote
        them: those of each workflow name's latest version."""

    async def waiting_tasks(
        self,
        task_types: Collection[str],
        *,
        workflow_id: str | None = None,
        correlation_id: str | None = None,
        limit: int = 1000,
    ) -> list[WaitingTask]:
        """IN_PROGRESS WAIT, HUMAN or HTTP_ENDPOINT steps of those types in RUNNING runs (of that run or correlation
        id only, when given), oldest run first, at most ``limit``."""


class CaseStore(Protocol):
    """Ballerine's entities, and what is kept beside a case's run: its record, decisions, the saved filters."""

    async def entity_for(self, entity_type: str, external_id: str, new_id: str, now: int) -> Entity:
        """The entity of that type with the caller's id, added under ``new_id`` when there is none (one per
        pair, whatever runs concurrently)."""

    async def get_entity(self, entity_id: str) -> Entity | None: ...

    async def add_case(self, record: CaseRecord) -> bool:
        """Keep ``record`` beside its run; False (nothing changed) when the run has one already or does not
        exist."""

    async def get_case(self, workflow_id: str) -> CaseRecord | None: ...

    async def assign_case(self, workflow_id: str, assignee_id: str | None, now: int) -> bool:
        """Set (None: clear) the assignee and when; False when the run has no record."""

    async def run_holding_key(self, key: str) -> str | None:
        """The run that holds an idempotency key (a start's), if any."""

    async def add_decision(self, workflow_id: str, decision: CaseDecision) -> int:
        """Append a decision to the case's history (its record must exist) and make it the last; its number."""

    async def case_decisions(self, workflow_id: str) -> list[CaseDecision]:
        """The case's decisions, oldest first."""

    async def list_cases(self, query: CaseQuery) -> CasePage:
        """A page of the runs of ``query.names`` with their records and derived states, and how many match."""

    async def add_filter(self, case_filter: CaseFilter) -> None: ...

    async def list_filters(self) -> list[CaseFilter]:
        """Every saved filter, oldest first."""

    async def get_filter(self, filter_id: str) -> CaseFilter | None: ...


class WebhookStore(Protocol):
    """Outgoing webhooks: server-wide subscriptions, runs' own, and each event's delivery with its attempts."""

    async def create_webhook(self, webhook: Webhook) -> None:
        """Store a new server-wide subscription; ConflictError when its id is taken (nothing changes then)."""

    async def update_webhook(self, webhook: Webhook) -> bool:
        """Replace the subscription of that id (its ``created_at`` kept); False when there is none."""

    async def get_webhook(self, webhook_id: str) -> Webhook | None: ...

    async def list_webhooks(self) -> list[Webhook]:
        """Every server-wide subscription, oldest first."""

    async def delete_webhook(self, webhook_id: str) -> bool:
        """Remove a subscription; its deliveries already recorded stay (and are still attempted)."""

    async def put_run_subscriptions(self, workflow_id: str, subscriptions: list[dict[str, Any]], now: int) -> bool:
        """Set a run's own subscriptions (replacing any) and watch for its end; False when there is no such run."""

    async def run_subscriptions(self, workflow_id: str) -> list[dict[str, Any]]:
        """A run's own subscriptions ([] when it has none); deleted with the run."""

    async def watched_running_runs(self, limit: int) -> list[str]:
        """Runs with subscriptions of their own, whose end is not yet recorded, that have not ended."""

    async def watched_ended_runs(self, ended_before: int, limit: int) -> list[str]:
        """Runs with subscriptions of their own that ended before ``ended_before`` and whose end is not yet
        recorded (the catch-up for an end no signal reported), in no particular order."""

    async def told_state(self, workflow_id: str) -> ToldState | None:
        """What the webhooks last told of the run (None: nothing yet)."""

    async def record_told_state(
        self,
        workflow_id: str,
        *,
        version: int,
        state: str | None,
        documents: dict[str, str],
        now: int,
        deliveries: Sequence[NewDelivery] = (),
    ) -> bool:
        """Record what is told of the run now, over ``version`` (the one read; 0: none), with the deliveries that
        tell it, in one transaction; False, and nothing written, when the version moved meanwhile (or, for 0, one
        was recorded meanwhile, or the run is gone)."""

    async def record_deliveries(self, deliveries: Sequence[NewDelivery], *, stop_watching: str | None = None) -> None:
        """Record the deliveries pending, due at once, in one transaction: one whose (event key, subscription) is
        recorded already is left as it was. ``stop_watching``: that run's end is recorded with them."""

    async def claim_deliveries(self, now: int, lease_until: int, token: str, limit: int) -> list[ClaimedDelivery]:
        """Lease up to ``limit`` due pending deliveries, each the oldest pending one of its run to its subscription
        and not leased by anyone; their attempt count goes up by one. Concurrent claims never share a delivery."""

    async def finish_attempt(self, claimed: ClaimedDelivery, outcome: AttemptOutcome) -> bool:
        """Record the attempt, and the delivery's new status if it is still leased under ``claimed.token``
        (False: the lease had run out and someone else took it)."""

    async def redeliver(self, delivery_id: str, now: int, give_up_at: int) -> bool:
        """Make a delivery pending and due at ``now`` again, its attempts kept; False when there is none,
        ConflictError while an attempt of it is under way."""

    async def list_deliveries(
        self, *, status: DeliveryStatus | None, workflow_id: str | None, limit: int
    ) -> list[WebhookDelivery]:
        """The newest ``limit`` deliveries (of that status, of that run), newest first, with their attempts."""

    async def get_delivery(self, delivery_id: str) -> WebhookDelivery | None: ...

    async def delivery_body(self, delivery_id: str) -> str | None:
        """The exact body a delivery posts (fixed when recorded); None when there is no such delivery."""

    async def delete_deliveries_before(self, cutoff: int, limit: int) -> int:
        """Delete up to ``limit`` delivered or failed deliveries recorded before ``cutoff``, with their attempts."""


class AccessStore(Protocol):
    """Applications, their access keys, and values every server on the database shares."""

    async def create_application(self, application: Application) -> None:
        """Store a new application; ConflictError when its id is taken (nothing changes then)."""

    async def update_application(self, application: Application) -> bool:
        """Replace the application's name, roles, task types and queues (its ``created`` kept); False when there is
        none."""

    async def get_application(self, application_id: str) -> Application | None: ...

    async def list_applications(self) -> list[Application]:
        """Every application, oldest first."""

    async def delete_application(self, application_id: str) -> bool:
        """Remove an application with its keys, in one transaction."""

    async def create_access_key(self, key: AccessKey) -> None:
        """Store a new key; ConflictError when its id is taken, NotFoundError when its application does not exist."""

    async def get_access_key(self, key_id: str) -> AccessKey | None: ...

    async def list_access_keys(self, application_id: str | None = None) -> list[AccessKey]:
        """The keys (of one application, when given), oldest first."""

    async def set_access_key_status(self, key_id: str, status: KeyStatus) -> bool:
        """False when there is no such key."""

    async def delete_access_key(self, key_id: str) -> bool: ...

    async def shared_value(self, name: str, proposed: str) -> str:
        """The value stored under ``name``, storing ``proposed`` first when there is none: however many servers
        propose at once, they all get the one value stored."""


class AuditStore(Protocol):
    """The audit log: who did what, newest first."""

    async def add_audit_entries(self, entries: Sequence[NewAuditEntry]) -> None:
        """Record the entries, in one transaction; each gets an id above every earlier entry's, in their order."""

    async def audit_entries(self, query: AuditQuery) -> list[AuditEntry]:
        """The newest ``query.limit`` entries matching each of its filters given, newest first."""

    async def delete_audit_entries_before(self, cutoff: int, limit: int) -> int:
        """Delete up to ``limit`` entries recorded before ``cutoff`` (oldest first); how many went."""


class ActivityStore(Protocol):
    """What happened in a time range, counted per minute (the operations charts)."""

    async def run_counts(self, since: int, until: int) -> list[RunCount]:
        """Runs created in ``[since, until)`` per minute (status None), and runs ended in it per minute and status."""

    async def add_step_latencies(self, counts: list[LatencyCount]) -> None:
        """Add ``counts`` to those stored for their minute, task type and bucket (any server's add up)."""

    async def forget_step_latencies(self, before_minute: int) -> int:
        """Delete the counts of minutes before ``before_minute``; how many rows went."""

    async def step_latencies(self, since: int, until: int) -> list[LatencyCount]:
        """The counts of the minutes in ``[since, until)``, per minute, task type and duration bucket."""


class Store(
    DefinitionStore,
    RunStore,
    DecisionStore,
    QueueStore,
    OutboxStore,
    TaskLogStore,
    PollDataStore,
    SecretStore,
    SearchStore,
    EventHandlerStore,
    WaitStore,
    CaseStore,
    WebhookStore,
    AccessStore,
    AuditStore,
    ActivityStore,
    Protocol,
):
    """Everything durable: every role. Open with ``open_store(url)``."""

    async def open(self) -> None:
        """Connect and apply pending numbered migrations."""

    async def close(self) -> None: ...
