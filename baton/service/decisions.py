"""Decisions made where they cannot stall the event loop.

A decision is first made on the event loop, as the store calls its step: most
are small and need no script, and cost a fraction of a millisecond there. One
that needs a script's or jq query's value (``EvaluationNeeded``), or that grows
past ``DecideContext.loop_budget`` (``TooLargeForTheLoop``), is refused with
``OFF_THE_LOOP`` instead, which writes nothing; it is then made in a decision
thread, where an evaluation waits for the sandbox and the event loop serves
everyone else. The store is asked again, and its step hands that decision back
when the store's run is the very run it was made on (equal header, the same task
objects); when the run moved meanwhile, it is decided afresh, the values already
evaluated kept in the memo. ``docs/design.md`` ("Off the event loop") says why.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Final

from baton import engine
from baton.engine import DecideContext, Decision, Event
from baton.engine.decision import OFF_THE_LOOP, Refusal, TooLargeForTheLoop
from baton.engine.evaluations import EvaluationNeeded, InProcess, Memo, Request, Result, not_on_the_loop
from baton.errors import StoreError
from baton.model import Task, Workflow, WorkflowDef
from baton.sandbox.sandbox import Sandbox
from baton.service.handoffs import Hand, Handoffs
from baton.store import ClaimAfter, DecisionStore

DECISION_THREADS: Final = 16
"""Decisions made off the loop at once; most of their time is spent waiting for the sandbox."""

_MAX_ATTEMPTS: Final = 16
"""A run that keeps moving under its off-loop decision is decided on the loop's terms at most this often."""

Evaluate = Callable[[Request], Coroutine[Any, Any, Result]]
"""Evaluates one request in the sandbox (on the event loop)."""
Requeue = Callable[[list[Task]], Coroutine[Any, Any, None]]
"""Puts tasks handed to long polls that left back in the queue."""


def sandbox_evaluator(sandbox: Sandbox) -> Evaluate:
    """Evaluate requests in ``sandbox``'s processes."""

    async def evaluate(request: Request) -> Result:
        if request.kind == "jq":
            return await sandbox.jq(request.source, request.input_json)
        return await sandbox.script(request.source, request.input_json)

    return evaluate


class Decisions:
    """Makes each decision on the event loop when it is cheap there, in a decision thread when not."""

    def __init__(
        self,
        store: DecisionStore,
        evaluate: Evaluate | None,
        handoffs: Handoffs | None = None,
        requeue: Requeue | None = None,
    ) -> None:
        self._store = store
        self._evaluate = evaluate
        self._handoffs = handoffs
        self._requeue = requeue
        self._threads = ThreadPoolExecutor(max_workers=DECISION_THREADS, thread_name_prefix="baton-decide")

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)

    async def start(self, definition: WorkflowDef, run: Workflow, ctx: DecideContext) -> Decision:
        """A new run's first decision (``ctx.loop_budget`` bounds it on the loop)."""
        memo = Memo(not_on_the_loop)
        try:
            return engine.start(definition, run, replace(ctx, evaluator=memo))
        except (EvaluationNeeded, TooLargeForTheLoop):
            pass
        off_loop = replace(ctx, evaluator=self._blocking_memo(memo, ctx), loop_budget=None)
        return await self._in_thread(engine.start, definition, run, off_loop)

    async def apply(
        self, workflow_id: str, event: Event, ctx: DecideContext, claim_after: ClaimAfter | None = None
    ) -> tuple[Decision, list[Task]]:
        """The event applied to the stored run in one transaction (with the claim ``claim_after`` asks for).

        The decision's new worker tasks go to long polls waiting in this process where they can
        (``service/handoffs.py``): each attempt the store makes takes its own offers, releasing the last one's.
        """
        memo = Memo(not_on_the_loop)
        on_loop = replace(ctx, evaluator=memo)
        made: tuple[Workflow, WorkflowDef, Decision] | None = None
        set_aside: list[tuple[Workflow, WorkflowDef]] = []
        hand = Hand([])

        def handed(decision: Decision) -> Decision:
            nonlocal hand
            hand.released()
            if self._handoffs is None or decision.refusal is not None:
                hand = Hand([])
                return decision
            decision, hand = self._handoffs.take(decision, ctx.now)
            return decision

        def step(run: Workflow, definition: WorkflowDef) -> Decision:
            if made is not None and made[1] is definition and made[0] == run:
                return handed(made[2])
            try:
                return handed(engine.apply(definition, run, event, on_loop))
            except (EvaluationNeeded, TooLargeForTheLoop) as reason:
                set_aside.append((run, definition))
                return handed(Decision(workflow=run, refusal=Refusal(kind=OFF_THE_LOOP, message=str(reason))))

        for _ in range(_MAX_ATTEMPTS):
            outcome: tuple[Decision, list[Task]]
            try:
                if claim_after is None:
                    outcome = await self._store.transact(workflow_id, step), []
                else:
                    outcome = await self._store.transact_then_claim(workflow_id, step, claim_after)
            except BaseException:
                hand.released()
                raise
            decision = outcome[0]
            if decision.refusal is None or decision.refusal.kind != OFF_THE_LOOP:
                if hand:
                    left = hand.delivered()
                    if left and self._requeue is not None:
                        await self._requeue(left)
                return outcome
            run, definition = set_aside[-1]
            set_aside.clear()
            off_loop = replace(ctx, evaluator=self._blocking_memo(memo, ctx), loop_budget=None)
            made = (run, definition, await self._in_thread(engine.apply, definition, run, event, off_loop))
        raise StoreError(f"Run {workflow_id} kept changing while a decision on it was made off the event loop")

    def _blocking_memo(self, memo: Memo, ctx: DecideContext) -> Memo:
        """A memo sharing ``memo``'s values whose misses wait for the sandbox (for a decision thread)."""
        evaluate = self._evaluate
        if evaluate is None:  # no sandbox (an embedded service): V8 and jq in the decision thread
            blocking = Memo(InProcess(ctx.script_timeout_ms, ctx.script_memory_bytes).evaluate)
        else:
            loop = asyncio.get_running_loop()

            def wait_for_sandbox(request: Request) -> Result:
                return asyncio.run_coroutine_threadsafe(evaluate(request), loop).result()

            blocking = Memo(wait_for_sandbox)
        blocking.results = memo.results
        return blocking

    async def _in_thread(self, make: Callable[..., Decision], *args: Any) -> Decision:
        return await asyncio.get_running_loop().run_in_executor(self._threads, make, *args)
