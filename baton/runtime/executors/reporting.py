"""An executor's result goes back the way a worker's does: ``TaskService.update``.

A reporter made with ``masking`` for a task given secrets writes ``***`` over every secret value in the output and
the reason it reports: Baton made the call, so nothing it answers (a URL in an error, an echoed header) may keep
one."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from baton.errors import ConflictError, NotFoundError
from baton.model import Task, TaskResult, TaskResultStatus
from baton.service import TaskService

log = logging.getLogger(__name__)


class Reporter:
    def __init__(self, tasks: TaskService, worker_id: str, mask: Callable[[Any], Any] = lambda value: value) -> None:
        self._tasks = tasks
        self.worker_id = worker_id
        self.mask = mask
        """What the reporter does to each output and reason first (``Revealed.mask`` for a task given secrets)."""

    def masking(self, mask: Callable[[Any], Any]) -> Reporter:
        """This reporter for one task, with ``mask`` applied to what it reports."""
        return Reporter(self._tasks, self.worker_id, mask)

    async def report(
        self,
        task: Task,
        status: TaskResultStatus,
        output: dict[str, Any] | None = None,
        *,
        reason: str | None = None,
        sub_workflow_id: str | None = None,
    ) -> bool:
        """Report a result; False when it was refused or ignored (the task was cancelled or its lease ran out
        meanwhile: the task's log says so)."""
        result = TaskResult(
            task_id=task.task_id,
            workflow_instance_id=task.workflow_instance_id,
            status=status,
            output_data=self.mask(output or {}),
            reason_for_incompletion=self.mask(reason),
            worker_id=self.worker_id,
            sub_workflow_id=sub_workflow_id,
        )
        try:
            _, applied = await self._tasks.report(result)
        except (ConflictError, NotFoundError) as exc:
            log.info("result of %s task %s refused: %s", task.task_type, task.task_id, exc)
            return False
        return applied
