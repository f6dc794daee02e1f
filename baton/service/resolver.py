"""Turns a workflow name (or an inline definition) into the exact definition a new run executes.

Each worker step gets its task definition embedded (``taskDefinition``), the
registered one or Conductor's defaults, so a run keeps the retry and timeout
settings it started with. A step the server runs from its queue (HTTP, EVENT,
SUB_WORKFLOW, START_WORKFLOW) gets the task definition registered under its
name, if there is one: its retries follow it (without one it is not retried,
like the other system tasks). Resolved definitions are reused for a short while
(``definition_cache_seconds``); a metadata change made through this process
clears the cache at once, one made through another process is seen within
that time.

A task type's claim limits (``rateLimitPerFrequency``, ``concurrentExecLimit``)
come from its registered TaskDef, read the same way: a limit is an operator's
setting for the type, so it applies to every run's tasks of that type, whatever
definition those runs started with. Only the setting is cached here; the
counting happens in the database, in the claim's transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from baton.errors import FieldError, ValidationError, workflow_def_not_found
from baton.model import (
    SERVER_QUEUED_TASK_TYPES,
    SYSTEM_TASK_TYPES,
    TaskDef,
    WorkflowDef,
    WorkflowTask,
    default_task_def,
)
from baton.model.validation import carries_schemas, validate_workflow_def
from baton.service.context import ServiceContext
from baton.store import ClaimLimits, DefinitionStore


@dataclass(frozen=True, slots=True)
class KnownLimits:
    limits: ClaimLimits | None
    fresh: bool
    """False once ``definition_cache_seconds`` have passed since they were read."""


class DefinitionResolver:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        self._store: DefinitionStore = ctx.store
        self._cache: dict[tuple[str, int | None], tuple[float, WorkflowDef]] = {}
        self._limits: dict[str, tuple[float, ClaimLimits | None]] = {}
        self.generation = 0
        """Counts the metadata changes made through this process: other caches of definitions (the HTTP
        triggers') read afresh when it moves."""

    def forget(self) -> None:
        self._cache.clear()
        self._limits.clear()
        self.generation += 1

    def cached_claim_limits(self, task_type: str) -> KnownLimits | None:
        """The limits of ``task_type`` as last read by this process, however old; None if never read."""
        cached = self._limits.get(task_type)
        if cached is None:
            return None
        return KnownLimits(limits=cached[1], fresh=cached[0] > self._ctx.clock() / 1000)

    async def claim_limits(self, task_type: str) -> ClaimLimits | None:
        """The limits of the registered TaskDef named ``task_type``; None when it has none."""
        now = self._ctx.clock() / 1000
        cached = self._limits.get(task_type)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self._store.get_task_defs([task_type])
        limits = ClaimLimits.of(found.get(task_type))
        if len(self._limits) > 1000 and task_type not in self._limits:
            self._limits.clear()
        self._limits[task_type] = (now + self._ctx.settings.definition_cache_seconds, limits)
        return limits

    async def by_name(self, name: str, version: int | None) -> WorkflowDef:
        """The registered definition (latest when ``version`` is None or 0), resolved."""
        wanted = version or None
        key = (name, wanted)
        now = self._ctx.clock() / 1000
        cached = self._cache.get(key)
        if cached is not None and cached[0] > now:
            return cached[1]
        definition = await self._store.get_workflow_def(name, wanted)
        if definition is None:
            raise workflow_def_not_found(name, wanted)
        resolved = await self.resolve(definition)
        if len(self._cache) > 1000:
            self._cache.clear()
        self._cache[key] = (now + self._ctx.settings.definition_cache_seconds, resolved)
        return resolved

    async def inline(self, definition: WorkflowDef) -> WorkflowDef:
        """A definition sent with the start request, validated (errors name ``workflowDef.<field>``) and resolved."""
        try:
            await checked(validate_workflow_def, definition, heavy=carries_schemas([definition]))
        except ValidationError as exc:
            raise ValidationError(errors=[FieldError(f"workflowDef.{e.path}", e.message) for e in exc.errors]) from None
        return await self.resolve(definition)

    async def resolve(self, definition: WorkflowDef) -> WorkflowDef:
        steps = definition.all_tasks()
        names = {s.name for s in steps if _takes_task_def(s) and s.task_definition is None}
        registered = await self._store.get_task_defs(names) if names else {}
        return msgspec.structs.replace(definition, tasks=[_embed(t, registered) for t in definition.tasks])


T = TypeVar("T")


async def checked(check: Callable[[T], None], value: T, *, heavy: bool) -> None:
    """Run a definition's ``check``; in a thread when it checks schemas, which can take up to a second
    (``model/schemas.py``): the event loop keeps serving meanwhile."""
    if heavy:
        await asyncio.to_thread(check, value)
    else:
        check(value)


def _embed(step: WorkflowTask, registered: Mapping[str, TaskDef]) -> WorkflowTask:
    changes: dict[str, object] = {}
    if step.task_definition is None:
        if step.type not in SYSTEM_TASK_TYPES:
            changes["task_definition"] = registered.get(step.name) or default_task_def(step.name)
        elif step.type in SERVER_QUEUED_TASK_TYPES and step.name in registered:
            changes["task_definition"] = registered[step.name]
    if step.decision_cases:
        changes["decision_cases"] = {
            key: [_embed(t, registered) for t in branch] for key, branch in step.decision_cases.items()
        }
    if step.default_case:
        changes["default_case"] = [_embed(t, registered) for t in step.default_case]
    if step.fork_tasks:
        changes["fork_tasks"] = [[_embed(t, registered) for t in branch] for branch in step.fork_tasks]
    if step.loop_over:
        changes["loop_over"] = [_embed(t, registered) for t in step.loop_over]
    return msgspec.structs.replace(step, **changes) if changes else step


def _takes_task_def(step: WorkflowTask) -> bool:
    return step.type not in SYSTEM_TASK_TYPES or step.type in SERVER_QUEUED_TASK_TYPES
