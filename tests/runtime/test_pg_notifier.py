"""Wake-ups cross processes on PostgreSQL: a publish in one notifier wakes a waiter of another."""

from __future__ import annotations

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
