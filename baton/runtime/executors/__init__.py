"""The server's own executors: HTTP, EVENT, SUB_WORKFLOW and START_WORKFLOW tasks.

These tasks are queued like worker tasks (SCHEDULED rows in the queue table under
their type) and claimed with a lease through ``Store.claim_tasks``, but by a loop
per type inside ``baton serve`` instead of by an external worker; their results go
back through ``TaskService.update``, as a worker's do. Any number of servers may
share one PostgreSQL database: each task is claimed by one of them. A server
killed mid-task loses its lease, and the task goes back to the queue for another
(or the restarted) server: at least once, as with workers.
"""

from baton.runtime.executors.pool import Executors

__all__ = ["Executors"]
