"""``baton serve`` runs the server; ``baton worker module:function ...`` runs Python workers against one."""

from __future__ import annotations

import argparse
import gc
import logging
import sys

from baton.config import Settings

GC_FIRST_THRESHOLD = 10_000
"""Allocations between young collections in ``baton serve`` (CPython's default is 700).

A request allocates thousands of short-lived objects; with the default, W1 on PostgreSQL spent 8 % of
the server's CPU in collections, among them full ones of ~45 ms that stop the event loop. Set by the
serve command, not the app: an app embedded in another process leaves that process's collector alone.
"""


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from baton.api.app import create_app

    settings = Settings.from_env(
        database_url=args.db,
        host=args.host,
        port=args.port,
        load_examples=args.examples,
        max_body_bytes=args.max_body_bytes,
        retention_days=args.retention_days,
    )
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # What is loaded by now lives as long as the process: later collections need not walk it.
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_FIRST_THRESHOLD, 10, 10)
    print(f"baton: serving on http://{settings.host}:{settings.port} with {settings.database_url}", flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level=args.log_level,
        timeout_graceful_shutdown=5,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from baton.sdk.cli import run_workers_main

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_workers_main(args.specs, server_url=args.server, concurrency=args.concurrency)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baton", description="A durable workflow orchestration server.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the server")
    serve.add_argument("--db", help="database URL: sqlite:///path.db (default ./baton.db) or postgresql://...")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8080)")
    serve.add_argument(
        "--examples",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="register the bundled example workflows at start",
    )
    serve.add_argument("--max-body-bytes", type=int, help="largest request body accepted (default 1 MiB)")
    serve.add_argument(
        "--retention-days",
        type=float,
        help="delete finished runs this many days after they ended (default 0: keep forever)",
    )
    serve.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    serve.set_defaults(run=_serve)

    worker = commands.add_parser("worker", help="run Python workers (module:function specs)")
    worker.add_argument("specs", nargs="+", help="module:function of @worker_task functions, or module")
    worker.add_argument("--server", default="http://127.0.0.1:8080", help="Baton's base URL")
    worker.add_argument("--concurrency", type=int, default=4, help="tasks of each task type run at once")
    worker.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    worker.set_defaults(run=_worker)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
