"""``baton worker module:function ...``: load worker functions and run them against a server."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

from baton.sdk.client import BatonClient
from baton.sdk.runner import WorkerRunner
from baton.sdk.worker import WorkerLoadError, load_workers

__all__ = ["run_workers_main"]

log = logging.getLogger("baton.sdk")


def run_workers_main(
    specs: Sequence[str],
    *,
    server_url: str,
    concurrency: int,
    worker_id: str | None = None,
    poll_timeout_ms: int = 1000,
    headers: dict[str, str] | None = None,
) -> int:
    """Load ``specs`` (``module:function``, ``module:function=task_type`` or ``module``) and run them.

    Blocks until SIGINT/SIGTERM. Returns the process exit code: 0 after a clean
    stop, 2 when the specs cannot be loaded or the arguments are wrong.
    """
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # A console script's sys.path starts at its own directory; import the user's
    # modules from where the command was run, as `python -m` would.
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    if not specs:
        print("baton worker: give at least one module:function", file=sys.stderr)
        return 2
    if concurrency < 1:
        print("baton worker: --concurrency must be at least 1", file=sys.stderr)
        return 2
    try:
        workers = load_workers(specs)
    except WorkerLoadError as exc:
        print(f"baton worker: {exc}", file=sys.stderr)
        return 2
    with BatonClient(server_url, headers=headers) as client:
        try:
            runner = WorkerRunner(
                client,
                workers,
                concurrency=concurrency,
                worker_id=worker_id,
                poll_timeout_ms=poll_timeout_ms,
            )
        except ValueError as exc:
            print(f"baton worker: {exc}", file=sys.stderr)
            return 2
        runner.run_forever()
    return 0
