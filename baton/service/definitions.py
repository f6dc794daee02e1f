"""Registering, reading and removing workflow and task definitions."""

from __future__ import annotations

from baton.errors import FieldError, ValidationError, task_def_not_found, workflow_def_not_found
from baton.model import TaskDef, WorkflowDef
from baton.model.audit import AuditAction, TargetKind
from baton.model.validation import carries_schemas, validate_task_defs, validate_workflow_def
from baton.service.audit import NO_DETAIL
from baton.service.context import ServiceContext
from baton.service.resolver import DefinitionResolver, checked
from baton.store import DefinitionStore


class DefinitionService:
    def __init__(self, ctx: ServiceContext, resolver: DefinitionResolver) -> None:
        self._ctx = ctx
        self._store: DefinitionStore = ctx.store
        self._resolver = resolver

    async def register_workflow(self, definition: WorkflowDef, *, overwrite: bool) -> None:
        await checked(validate_workflow_def, definition, heavy=carries_schemas([definition]))
        now = self._ctx.clock()
        definition.create_time = definition.create_time or now
        definition.update_time = now
        await self._store.put_workflow_defs([definition], overwrite=overwrite)
        self._resolver.forget()
        await self._registered([definition])

    async def update_workflows(self, definitions: list[WorkflowDef]) -> None:
        """Create or replace each definition; all or nothing."""
        await checked(_validate_each, definitions, heavy=carries_schemas(definitions))
        now = self._ctx.clock()
        for definition in definitions:
            definition.create_time = definition.create_time or now
            definition.update_time = now
        await self._store.put_workflow_defs(definitions, overwrite=True)
        self._resolver.forget()
        await self._registered(definitions)

    async def get_workflow(self, name: str, version: int | None = None) -> WorkflowDef:
        definition = await self._store.get_workflow_def(name, version)
        if definition is None:
            raise workflow_def_not_found(name, version)
        return definition

    async def list_workflows(self, name: str | None = None) -> list[WorkflowDef]:
        return await self._store.list_workflow_defs(name)

    async def delete_workflow(self, name: str, version: int) -> None:
        if not await self._store.delete_workflow_def(name, version):
            raise workflow_def_not_found(name, version)
        self._resolver.forget()
        await self._ctx.audit.record(
            AuditAction.WORKFLOW_DEF_DELETED, TargetKind.WORKFLOW_DEF, name, {"version": version}
        )

    async def register_task_defs(self, task_defs: list[TaskDef], *, overwrite: bool = True) -> None:
        await checked(validate_task_defs, task_defs, heavy=carries_schemas(task_defs))
        now = self._ctx.clock()
        for task_def in task_defs:
            task_def.create_time = task_def.create_time or now
            task_def.update_time = now
        await self._store.put_task_defs(task_defs, overwrite=overwrite)
        self._resolver.forget()
        registered = [(task_def.name, NO_DETAIL) for task_def in task_defs]
        await self._ctx.audit.record_each(AuditAction.TASK_DEF_REGISTERED, TargetKind.TASK_DEF, registered)

    async def get_task_def(self, name: str) -> TaskDef:
        found = await self._store.get_task_defs([name])
        if name not in found:
            raise task_def_not_found(name)
        return found[name]

    async def list_task_defs(self) -> list[TaskDef]:
        return await self._store.list_task_defs()

    async def delete_task_def(self, name: str) -> None:
        if not await self._store.delete_task_def(name):
            raise task_def_not_found(name)
        self._resolver.forget()
        await self._ctx.audit.record(AuditAction.TASK_DEF_DELETED, TargetKind.TASK_DEF, name)

    async def _registered(self, definitions: list[WorkflowDef]) -> None:
        registered = [(d.name, {"version": d.version}) for d in definitions]
        await self._ctx.audit.record_each(AuditAction.WORKFLOW_DEF_REGISTERED, TargetKind.WORKFLOW_DEF, registered)


def _validate_each(definitions: list[WorkflowDef]) -> None:
    errors: list[FieldError] = []
    for index, definition in enumerate(definitions):
        try:
            validate_workflow_def(definition)
        except ValidationError as exc:
            errors.extend(FieldError(f"[{index}].{e.path}", e.message) for e in exc.errors)
    if errors:
        raise ValidationError(errors=errors)
