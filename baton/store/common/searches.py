"""Search over runs and tasks, and retention, written once for both stores over ``search``'s statements."""

from __future__ import annotations

from abc import abstractmethod

from baton.store.base import RunPage, SearchRequest, TaskPage
from baton.store.common import codec, search
from baton.store.common.database import Database


class Searches:
    """``SearchStore`` over the store's ``Database``; the store forgets what it cached of a deleted run."""

    _db: Database

    @abstractmethod
    def _forget_run(self, workflow_id: str) -> None:
        """Drop whatever this process keeps of a run that is deleted."""

    async def _search(self, statements: search.SearchStatements, request: SearchRequest) -> tuple[int, list[str]]:
        async with self._db.long_read("search") as tx:
            rows = await tx.fetchall(statements.page.sql, *statements.page.params)
            counted = None
            if request.with_total and not search.page_is_last(request.start, request.size, len(rows)):
                row = await tx.fetchone(statements.count.sql, *statements.count.params)
                counted = int(row[0]) if row is not None else 0
        bodies = [body for (body,) in rows]
        return search.total_hits(request.start, request.size, len(bodies), counted), bodies

    async def search_runs(self, request: SearchRequest) -> RunPage:
        total, bodies = await self._search(search.search_runs(self._db.dialect, request), request)
        if request.newer_than is not None:
            bodies.reverse()
        return RunPage(total_hits=total, results=[codec.decode_run(body) for body in bodies])

    async def count_runs_by_status(self, request: SearchRequest) -> dict[str, int]:
        statement = search.count_runs_by_status(self._db.dialect, request)
        async with self._db.long_read("count runs by status") as tx:
            rows = await tx.fetchall(statement.sql, *statement.params)
        return {status: int(count) for status, count in rows}

    async def search_tasks(self, request: SearchRequest) -> TaskPage:
        total, bodies = await self._search(search.search_tasks(self._db.dialect, request), request)
        return TaskPage(total_hits=total, results=[codec.decode_task(body) for body in bodies])

    async def running_run_ids(
        self, name: str, *, version: int | None, start_from: int | None, start_to: int | None
    ) -> list[str]:
        statement = search.running_run_ids(
            self._db.dialect, name, version=version, start_from=start_from, start_to=start_to
        )
        async with self._db.read("list running runs") as tx:
            rows = await tx.fetchall(statement.sql, *statement.params)
        return [workflow_id for (workflow_id,) in rows]

    async def delete_finished_before(self, cutoff: int, limit: int) -> int:
        statement = search.delete_finished_before(self._db.dialect, cutoff, limit)
        async with self._db.write_one("delete finished runs") as tx:
            rows = await tx.fetchall(statement.sql, *statement.params)
        for (workflow_id,) in rows:
            self._forget_run(workflow_id)
        return len(rows)
