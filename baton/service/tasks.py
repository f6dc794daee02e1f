"""What workers do: poll for tasks (each poll noted as the worker's last), report results; and completing a
waiting step by reference."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from baton.engine import Decision, TaskResultReceived, TaskStatusByRef
from baton.engine.events import MergeVariables
from baton.errors import FieldError, NotFoundError, ValidationError, task_not_found
from baton.model import PollData, Task, TaskResult, TaskResultStatus
from baton.model.validation import task_result_errors
from baton.service.acting import check_may_work_on, limited_principal
from baton.service.context import ServiceContext, raise_refusal
from baton.service.handoffs import Offer
from baton.service.polls import PollRecorder
from baton.service.resolver import DefinitionResolver
from baton.service.secrets import SecretService, SecretUnavailable
from baton.service.wakeups import Waiter, task_key
from baton.store import ClaimRequest


class TaskService:
    def __init__(self, ctx: ServiceContext, resolver: DefinitionResolver, secrets: SecretService) -> None:
        self._ctx = ctx
        self._resolver = resolver
        self._secrets = secrets
        self.polls = PollRecorder(ctx.store, ctx.clock)

    async def poll(
        self,
        task_type: str,
        *,
        worker_id: str | None,
        domain: str | None = None,
        count: int = 1,
        timeout_ms: int = 0,
        gone: Callable[[], Awaitable[bool]] | None = None,
    ) -> list[Task]:
        """Claim up to ``count`` tasks; wait up to ``timeout_ms`` for the first one to be ready.

        ``gone`` tells whether the poller has hung up: a long poll whose worker left
        claims nothing more, so its tasks go to the workers still there. A type's
        rate and concurrency limits may hand out fewer (or none): the rest stay queued.
        The poll is noted as ``worker_id``'s last in ``domain`` (which Baton records but does not route by).
        """
        check_may_work_on(task_type)
        settings = self._ctx.settings
        if count < 1 or count > settings.max_poll_count:
            raise ValidationError(errors=[FieldError("count", f"must be between 1 and {settings.max_poll_count}")])
        if timeout_ms < 0:
            raise ValidationError(errors=[FieldError("timeout", "must not be negative")])
        self.polls.seen(task_type, domain, worker_id)
        store = self._ctx.store
        limits = await self._resolver.claim_limits(task_type)
        if timeout_ms == 0:
            return await self.handed_out(
                await store.claim_tasks(
                    task_type, worker_id=worker_id, count=count, now=self._ctx.clock(), limits=limits
                )
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(timeout_ms, settings.max_poll_timeout_ms) / 1000
        # Listening before the first claim: a task queued between that claim and the wait still wakes it, so an
        # empty poll costs one claim, not two.
        handoffs = self._ctx.handoffs
        # Only a poll of one task is offered starts' and decisions' new tasks (service/handoffs.py): a batch poll
        # handed one would return with one where a claim from the queue fills its batch.
        offers = limits is None and count == 1
        with self._ctx.notifier.listen(task_key(task_type)) as waiter:
            while True:
                if offers and handoffs.drained(task_type):
                    with handoffs.offer(task_type, worker_id, waiter) as offer:
                        claimed = await store.claim_tasks(
                            task_type, worker_id=worker_id, count=count, now=self._ctx.clock()
                        )
                        handed = await offer.outcome()
                    handoffs.claimed(task_type, short=len(claimed) < count)
                    if handed:
                        claimed = await self._with_handed(claimed, handed, offer, waiter, count)
                else:
                    claimed = await store.claim_tasks(
                        task_type, worker_id=worker_id, count=count, now=self._ctx.clock(), limits=limits
                    )
                    handoffs.claimed(task_type, short=len(claimed) < count)
                tasks = await self.handed_out(claimed)
                remaining = deadline - loop.time()
                if tasks or remaining <= 0:
                    return tasks
                # Re-check at least every half second: delayed tasks become visible without a wake-up,
                # and tasks queued by another process wake nobody here.
                if offers:  # a start or a decision may hand its new task straight to this poll
                    with self._ctx.handoffs.offer(task_type, worker_id, waiter) as offer:
                        woken = await waiter.wait(min(remaining, 0.5))
                        handed = await offer.outcome()
                    if handed:
                        if woken and not offer.woke:
                            waiter.decline()  # a publish's wake: another poller claims what it stands for
                        if gone is not None and await gone():
                            await self._ctx.requeue(handed)
                            return []
                        return await self.handed_out(handed)
                else:
                    woken = await waiter.wait(min(remaining, 0.5))
                if gone is not None and await gone():
                    if woken:
                        waiter.decline()  # another poller claims what woke this one
                    return []

    async def _with_handed(
        self, claimed: list[Task], handed: list[Task], offer: Offer, waiter: Waiter, count: int
    ) -> list[Task]:
        """A claim's tasks and those a start handed the poll meanwhile, ``count`` at most: the rest go back to the
        queue at once."""
        if offer.woke:
            await waiter.wait(0)  # the hand-off's own wake, not a publish's: taken, so that it is not passed on
        room = count - len(claimed)
        if len(handed) > room:
            await self._ctx.requeue(handed[room:])
            handed = handed[:room]
        return claimed + handed

    async def update(self, result: TaskResult) -> Task:
        """Apply a worker's result to its task; returns the task as updated (as it is, when the result was ignored)."""
        await self.check_may_work_on_task(result.task_id)
        task, _ = await self.report(result)
        return task

    async def report(self, result: TaskResult, *, merge_variables: MergeVariables | None = None) -> tuple[Task, bool]:
        """``update``, and whether the result was applied: one too late (its task or run ended, its lease ran
        out) is not, as in Conductor; it is logged on the task instead (``GET /api/tasks/{id}/log``).

        ``merge_variables`` changes the run's variables in the same decision, computed from the run it is made on
        (a pure function: the decision may be made again on a newer run).
        """
        _check_result(result)
        workflow_id = result.workflow_instance_id or await self._ctx.store.workflow_id_of_task(result.task_id)
        if workflow_id is None:
            raise task_not_found(result.task_id)
        event = TaskResultReceived(result=result, merge_variables=merge_variables)
        try:
            decision = await self._ctx.apply_event(workflow_id, event, may_ignore=True)
        except NotFoundError:
            owner = await self._owner_elsewhere(result.task_id, workflow_id)
            if owner is None:
                raise
            decision = await self._ctx.apply_event(owner, event, may_ignore=True)
        if decision.refusal is not None:
            return await self._ctx.log_ignored(decision.refusal, _describe(result)), False
        for task in decision.updated:
            if task.task_id == result.task_id:
                return task, True
        raise task_not_found(result.task_id)

    async def update_and_poll(self, result: TaskResult) -> Task | None:
        """Apply a result, then hand the same worker its next task of the same type, if one is ready.

        One transaction for both (``Store.transact_then_claim``); the wake-ups are ``update``'s.
        The claim uses the type's limits as this process last read them; when it never
        read them, it claims nothing (the worker's next poll does) and reads them after.
        """
        _check_result(result)
        await self.check_may_work_on_task(result.task_id)
        ctx = self._ctx
        workflow_id = result.workflow_instance_id or await ctx.store.workflow_id_of_task(result.task_id)
        if workflow_id is None:
            raise task_not_found(result.task_id)
        decide_ctx = ctx.decide_context()
        event = TaskResultReceived(result=result)

        def claim_after(decision: Decision) -> ClaimRequest | None:
            for task in decision.updated:
                if task.task_id == result.task_id:
                    known = self._resolver.cached_claim_limits(task.task_type)
                    if known is None:
                        return None
                    worker_id = result.worker_id or task.worker_id
                    return ClaimRequest(task.task_type, worker_id, 1, ctx.clock(), known.limits)
            return None

        refused: NotFoundError | None = None
        try:
            decision, claimed = await ctx.decisions.apply(workflow_id, event, decide_ctx, claim_after)
            if decision.refusal is not None and decision.refusal.kind == "not_found":
                refused = NotFoundError(decision.refusal.message)
        except NotFoundError as missing:
            refused = missing
        if refused is not None:
            owner = await self._owner_elsewhere(result.task_id, workflow_id)
            if owner is None:
                raise refused
            decision, claimed = await ctx.decisions.apply(owner, event, decide_ctx, claim_after)
        if decision.refusal is not None:
            raise_refusal(decision.refusal, may_ignore=True)
            ignored = await ctx.log_ignored(decision.refusal, _describe(result))
            worker_id = result.worker_id or ignored.worker_id
            claimed = await self.poll(ignored.task_type, worker_id=worker_id) if ignored.is_queued_task else []
            return claimed[0] if claimed else None
        ctx.publish(decision, decide_ctx.now)
        reported = next((task for task in decision.updated if task.task_id == result.task_id), None)
        if reported is None:
            raise task_not_found(result.task_id)
        self.polls.seen(reported.task_type, None, result.worker_id or reported.worker_id)
        self._ctx.handoffs.claimed(reported.task_type, short=not claimed)
        known = self._resolver.cached_claim_limits(reported.task_type)
        if known is None or not known.fresh:
            await self._resolver.claim_limits(reported.task_type)
        handed = await self.handed_out(claimed)
        return handed[0] if handed else None

    async def handed_out(self, tasks: list[Task]) -> list[Task]:
        """Claimed tasks as a worker gets them: with their secrets' values in their input. A task whose secret
        cannot be given fails (its reason names the secret) and is not handed out."""
        handed: list[Task] = []
        for task in tasks:
            try:
                handed.append((await self._secrets.reveal(task)).task)
            except SecretUnavailable as unavailable:
                await self.fail_unrevealed(task, unavailable)
        return handed

    async def fail_unrevealed(self, task: Task, unavailable: SecretUnavailable) -> None:
        """Fail a claimed task whose secrets cannot be given: terminally when only a restart can help."""
        status = TaskResultStatus.FAILED_WITH_TERMINAL_ERROR if unavailable.terminal else TaskResultStatus.FAILED
        result = TaskResult(
            task_id=task.task_id,
            workflow_instance_id=task.workflow_instance_id,
            status=status,
            reason_for_incompletion=unavailable.reason,
            worker_id=task.worker_id,
        )
        await self.report(result)

    async def complete_by_ref(
        self,
        workflow_id: str,
        reference_task_name: str,
        status: TaskResultStatus,
        output: dict[str, Any],
        worker_id: str | None = None,
    ) -> str:
        """Set the status of the pending task with that reference name; returns its id.

        When the reference's latest attempt (or the run) already ended, the status is ignored and logged on
        that attempt, whose id is returned (Conductor answers such a call 200 too).
        """
        if limited_principal() is not None:
            run = await self._ctx.store.get_run(workflow_id)
            for task in run.tasks if run is not None else []:
                if task.reference_task_name == reference_task_name:
                    check_may_work_on(task.task_type)
        decision = await self._ctx.apply_event(
            workflow_id,
            TaskStatusByRef(reference_task_name=reference_task_name, status=status, output=output, worker_id=worker_id),
            may_ignore=True,
        )
        if decision.refusal is not None:
            what = f"{status.value} by reference {reference_task_name}" + (f" from {worker_id}" if worker_id else "")
            return (await self._ctx.log_ignored(decision.refusal, what)).task_id
        for task in decision.updated:
            if task.reference_task_name == reference_task_name and task.status.value == status.value:
                return task.task_id
        matching = [t for t in decision.updated if t.reference_task_name == reference_task_name]
        if matching:
            return matching[0].task_id
        raise NotFoundError(f"No pending task '{reference_task_name}' in workflow {workflow_id}")

    async def check_may_work_on_task(self, task_id: str) -> None:
        """PermissionDeniedError when the acting key is a WORKER of other task types than the task's (read only
        for such a key: no cost for others)."""
        if limited_principal() is None:
            return
        task = await self._ctx.store.get_task(task_id)
        if task is not None:
            check_may_work_on(task.task_type)

    async def poll_data(self, task_type: str | None) -> list[PollData]:
        """Conductor's ``PollData``: the last poll of each worker of ``task_type`` (of every type when None)."""
        if task_type is not None and not task_type.strip():
            raise ValidationError(errors=[FieldError("taskType", "is required")])
        return await self.polls.poll_data(task_type)

    async def _owner_elsewhere(self, task_id: str, named: str) -> str | None:
        """The run that holds ``task_id`` when a result named another run (or none that exists).

        Conductor finds a result's task by its id alone, so a worker that names the wrong
        ``workflowInstanceId`` still completes its task; so does Baton. Asked only after the
        named run refused, so a well-formed result costs no extra read.
        """
        owner = await self._ctx.store.workflow_id_of_task(task_id)
        return owner if owner is not None and owner != named else None

    async def get(self, task_id: str) -> Task:
        task = await self._ctx.store.get_task(task_id)
        if task is None:
            raise task_not_found(task_id)
        return task

    async def queue_sizes(self, task_types: list[str] | None) -> dict[str, int]:
        return await self._ctx.store.queue_sizes(task_types or None)


def _describe(result: TaskResult) -> str:
    """How an ignored result is named in its task's log: ``Result COMPLETED from worker-1``."""
    worker = f" from {result.worker_id}" if result.worker_id else ""
    return f"Result {result.status.value}{worker}"


def _check_result(result: TaskResult) -> None:
    errors = [] if result.task_id else [FieldError("taskId", "is required")]
    errors.extend(task_result_errors(result.callback_after_seconds))
    if errors:
        raise ValidationError(errors=errors)
