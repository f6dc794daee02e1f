"""What the relay tests share: a service on a real store that never acts on its own signals (a process killed
right after its commits), a clock the test moves, and one pass of the relay once the signals are overdue."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from baton.config import Settings
from baton.model import WorkflowDef
from baton.model.codec import convert
from baton.runtime.relay import OutboxRelay
from baton.service import Baton
from baton.store import open_store

T0 = 1_700_000_000_000


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> int:
        return self.now


@asynccontextmanager
async def service_left_to_the_relay(store_url: str, *definitions: dict[str, Any]) -> AsyncIterator[Baton]:
    """A service with ``definitions`` registered whose signals only the relay acts on."""
    store = open_store(store_url)
    await store.open()
    baton = Baton(store, Settings(database_url=store_url))
    baton.context.clock = Clock()
    baton.context.signal_handler = None
    for definition in definitions:
        await baton.definitions.register_workflow(convert(definition, WorkflowDef), overwrite=True)
    try:
        yield baton
    finally:
        await store.close()


async def relay_later(service: Baton) -> int:
    """Move the clock past ``outbox_relay_after_ms`` and run one pass of the relay; how many signals it found."""
    clock = service.context.clock
    assert isinstance(clock, Clock)
    clock.now += service.context.settings.outbox_relay_after_ms + 1
    return await OutboxRelay(service).relay_once()
