"""In-process wake-ups: a task key wakes one poller per ready task, a run key every waiter, and no wake is lost."""

from __future__ import annotations

from contextlib import ExitStack

from baton.runtime.notifier import Notifier
from baton.service.wakeups import run_key, task_key


async def test_a_task_key_wakes_one_waiter_per_time_it_is_published() -> None:
    notifier = Notifier()
    with ExitStack() as stack:
        waiters = [stack.enter_context(notifier.listen(task_key("t"))) for _ in range(4)]
        notifier.publish([task_key("t"), task_key("t"), run_key("r")])
        assert sum(waiter.woken for waiter in waiters) == 2
        notifier.publish([task_key("t")])
        assert sum(waiter.woken for waiter in waiters) == 3, "a waiter already woken was woken again"


async def test_a_run_key_and_a_remote_key_wake_every_waiter() -> None:
    notifier = Notifier()
    with ExitStack() as stack:
        runs = [stack.enter_context(notifier.listen(run_key("r"))) for _ in range(3)]
        tasks = [stack.enter_context(notifier.listen(task_key("t"))) for _ in range(3)]
        notifier.publish([run_key("r")])
        notifier.wake_all([task_key("t")])
        assert all(waiter.woken for waiter in (*runs, *tasks))


async def test_a_wake_left_untaken_passes_to_another_waiter() -> None:
    notifier = Notifier()
    with notifier.listen(task_key("t")) as staying:
        with notifier.listen(task_key("t")) as leaving:
            leaving.wake()  # its poller claimed before it waited, and returns
        assert await staying.wait(0), "the wake of a waiter that left was lost"


async def test_a_declined_wake_passes_on_when_its_waiter_leaves() -> None:
    notifier = Notifier()
    with notifier.listen(task_key("t")) as staying:
        with notifier.listen(task_key("t")) as leaving:
            leaving.wake()
            assert await leaving.wait(0)
            leaving.decline()
        assert await staying.wait(0)
