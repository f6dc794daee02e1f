"""Use cases: the one place each is written. The HTTP API, the CLI and the SDK's in-process mode call these."""

from __future__ import annotations

from importlib import resources

from baton.config import Settings
from baton.engine import Signal, SignalKind
from baton.errors import ConflictError
from baton.model import WorkflowDef
from baton.model.codec import decode
from baton.sandbox.sandbox import Sandbox
from baton.service.access import AccessService
from baton.service.audit import AuditService
from baton.service.cases import CaseService
from baton.service.children import ChildRuns
from baton.service.context import ServiceContext
from baton.service.decisions import sandbox_evaluator
from baton.service.definitions import DefinitionService
from baton.service.entities import EntityRuns
from baton.service.event_actions import EventActions
from baton.service.events import EventHandlerService
from baton.service.http_triggers import HttpTriggers
from baton.service.metrics import MetricsService
from baton.service.mocked_runs import MockedRuns
from baton.service.operations import OperationService
from baton.service.resolver import DefinitionResolver
from baton.service.runs import ExecuteOutcome, RunService
from baton.service.search import SearchParams, SearchService
from baton.service.secrets import Revealed, SecretService, SecretUnavailable
from baton.service.tasks import TaskService
from baton.service.waits import WaitService
from baton.service.wakeups import NoWakeups, Wakeups
from baton.service.webhooks import WebhookService
from baton.store import RunPosition, Store

__all__ = [
    "AccessService",
    "AuditService",
    "Baton",
    "CaseService",
    "ChildRuns",
    "DefinitionService",
    "EntityRuns",
    "EventActions",
    "EventHandlerService",
    "ExecuteOutcome",
    "HttpTriggers",
    "MetricsService",
    "MockedRuns",
    "OperationService",
    "Revealed",
    "RunPosition",
    "RunService",
    "SearchParams",
    "SearchService",
    "SecretService",
    "SecretUnavailable",
    "ServiceContext",
    "TaskService",
    "WaitService",
    "Wakeups",
    "WebhookService",
]


class Baton:
    """The service layer, wired: one per process.

    ``notifier`` wakes long polls and sync waits (``baton serve`` passes runtime's); without one,
    waiters re-read the store on their own interval only.
    """

    def __init__(
        self, store: Store, settings: Settings, notifier: Wakeups | None = None, sandbox: Sandbox | None = None
    ) -> None:
        self.context = ServiceContext(
            store=store,
            settings=settings,
            notifier=notifier or NoWakeups(),
            evaluate=None if sandbox is None else sandbox_evaluator(sandbox),
        )
        resolver = DefinitionResolver(self.context)
        self.access = AccessService(self.context)
        self.definitions = DefinitionService(self.context, resolver)
        self.runs = RunService(self.context, resolver)
        self.secrets = SecretService(self.context)
        self.tasks = TaskService(self.context, resolver, self.secrets)
        self.waits = WaitService(self.context, self.tasks)
        self.http_triggers = HttpTriggers(self.context, resolver, self.runs, self.waits)
        self.mocked_runs = MockedRuns(self.context, self.runs)
        self.search = SearchService(self.context)
        self.operations = OperationService(self.context, resolver)
        self.children = ChildRuns(self.context, self.runs, self.operations)
        self.events = EventHandlerService(self.context)
        self.event_actions = EventActions(self.context, self.runs, self.tasks, self.operations)
        self.webhooks = WebhookService(self.context)
        # Ballerine's runs and cases; the outgoing webhooks hear of their changes.
        self.entities = EntityRuns(self.context, self.runs, self.waits, lambda: self.webhooks)
        self.audit = self.context.audit
        self.metrics = MetricsService(self.context)
        self.cases = CaseService(self.context, self.entities, self.operations, self.tasks, self.waits)
        self.context.signal_handler = self.handle_signal

    async def handle_signal(self, signal: Signal) -> None:
        """Act on one outbox signal (then remove it): a published event's handlers, a run's end or change for its
        webhooks, or another run's step."""
        if signal.kind is SignalKind.EVENT_PUBLISHED:
            await self.event_actions.handle(signal)
        elif signal.kind is SignalKind.RUN_ENDED:
            await self.webhooks.handle_run_ended(signal)
        elif signal.kind is SignalKind.RUN_CHANGED:
            await self.webhooks.changes.handle(signal)
        else:
            await self.children.handle(signal)

    @property
    def store(self) -> Store:
        return self.context.store

    async def load_examples(self) -> list[str]:
        """Register the bundled example workflows that are not registered yet; returns their names."""
        loaded: list[str] = []
        for entry in sorted(resources.files("baton.examples").iterdir(), key=lambda e: e.name):
            if not entry.name.endswith(".json"):
                continue
            definition = decode(entry.read_bytes(), WorkflowDef, what=entry.name)
            try:
                await self.definitions.register_workflow(definition, overwrite=False)
            except ConflictError:
                continue
            loaded.append(definition.name)
        return loaded
