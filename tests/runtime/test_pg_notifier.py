"""Wake-ups cross processes on PostgreSQL: a publish in one notifier wakes a waiter of another."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from baton.runtime.pg_notifier import PostgresNotifier


async def test_a_publish_wakes_a_waiter_in_another_notifier(postgres_url: str) -> None:
    sender, receiver = PostgresNotifier(postgres_url), PostgresNotifier(postgres_url)
    await sender.start()
    await receiver.start()
    try:
        with receiver.listen("task:remote") as waiter, receiver.listen("task:other") as bystander:
            sender.publish(["task:remote", "run:123"])
            assert await waiter.wait(10.0)
            assert not await bystander.wait(0.3)
        keys = [f"task:type_{i}" for i in range(250)]
        with receiver.listen(keys[-1]) as last:
            sender.publish(keys)
            assert await last.wait(10.0), "keys past the first notification were not delivered"
    finally:
        await sender.stop()
        await receiver.stop()


async def test_a_process_ignores_its_own_notifications(postgres_url: str) -> None:
    notifier = PostgresNotifier(postgres_url)
    await notifier.start()
    try:
        with notifier.listen("run:self") as waiter:
            notifier.publish(["run:self"])
            assert await waiter.wait(1.0)
            assert not await waiter.wait(0.5), "the echo of its own NOTIFY woke the waiter a second time"
    finally:
        await notifier.stop()


async def _until_connected(admin: asyncpg.Connection, count: int) -> None:
    """Wait until ``count`` other connections to this database are open."""
    for _ in range(200):
        connected = await admin.fetchval(
            """SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"""
        )
        if connected == count:
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"{connected} connections to the database, not {count}")


async def test_wake_ups_cross_again_after_the_connections_are_cut(postgres_url: str) -> None:
    """PostgreSQL ends both notifiers' connections: they connect again, and a later publish still crosses."""
    sender, receiver = PostgresNotifier(postgres_url), PostgresNotifier(postgres_url)
    await sender.start()
    await receiver.start()
    admin = await asyncpg.connect(postgres_url)
    try:
        with receiver.listen("task:before") as waiter:
            sender.publish(["task:before"])
            assert await waiter.wait(10.0)
        await _until_connected(admin, 4)  # the receiver's sender connects in the background
        cut = await admin.fetchval(
            """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
               WHERE datname = current_database() AND pid <> pg_backend_pid()"""
        )
        assert cut == 4  # each notifier's listener and sender
        with receiver.listen("task:after") as waiter:
            # Publishes made while the connections are down are lost (wake-ups are hints): publish until one lands.
            for _ in range(100):
                sender.publish(["task:after"])
                if await waiter.wait(0.2):
                    break
            else:
                pytest.fail("no wake-up crossed after the connections were cut")
    finally:
        await admin.close()
        await sender.stop()
        await receiver.stop()
