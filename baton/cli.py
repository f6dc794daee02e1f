"""``baton serve`` runs the server; ``baton worker module:function ...`` runs Python workers against one."""

from __future__ import annotations

import argparse
import gc
import logging
import sys
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any

from baton.config import Settings, parse_setting, setting_docs

GC_FIRST_THRESHOLD = 10_000
"""Allocations between young collections in ``baton serve`` (CPython's default is 700).

A request allocates thousands of short-lived objects; with the default, W1 on PostgreSQL spent 8 % of
the server's CPU in collections, among them full ones of ~45 ms that stop the event loop. Set by the
serve command, not the app: an app embedded in another process leaves that process's collector alone.
"""


KEEP_ALIVE_SECONDS = 60
"""How long an idle keep-alive connection stays open (uvicorn's default is 5 s; Conductor's Tomcat keeps 60 s).

The official clients pool connections and reuse one after a pause: with 5 s, a request sent as the server
closes the idle connection fails with a protocol error, which conductor-python 2.0.0 heals by replacing its
shared HTTP client under the threads that use it (its own integration tests then hang or fail).
"""


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from baton.server import create_app

    try:
        settings = Settings.from_env(**{f.name: getattr(args, f.name) for f in fields(Settings)})
    except ValueError as exc:
        print(f"baton serve: error: {exc}", file=sys.stderr)
        return 2
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
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
    return 0


def _worker(args: argparse.Namespace) -> int:
    from baton.sdk.cli import run_workers_main

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_workers_main(args.specs, server_url=args.server, concurrency=args.concurrency)


FLAG_ALIASES = {"database_url": "--db", "load_examples": "--examples"}
"""Short flags kept from before every setting had one; the long ``--database-url`` and ``--load-examples`` work too."""


def _setting_type(type_name: str) -> Callable[[str], Any]:
    def parse(raw: str) -> Any:
        return parse_setting(type_name, raw)

    parse.__name__ = type_name  # argparse names it in "invalid int value: 'x'"
    return parse


def _shown_default(value: Any) -> str:
    mib = 1024 * 1024
    if isinstance(value, int) and not isinstance(value, bool) and value >= mib and value % mib == 0:
        return f"{value} ({value // mib} MiB)"
    return str(value)


def _add_setting_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per ``Settings`` field, from the field's name, type, default and docstring."""
    docs = setting_docs()
    for f in fields(Settings):
        long_flag = "--" + f.name.replace("_", "-")
        flags = [FLAG_ALIASES[f.name], long_flag] if f.name in FLAG_ALIASES else [long_flag]
        default = f.default if f.default is not MISSING else None
        doc = docs.get(f.name, "").replace("``", "").replace("%", "%%")
        help_text = f"{doc} (default: {_shown_default(default)}; env BATON_{f.name.upper()})".lstrip()
        if f.type == "bool":
            parser.add_argument(
                *flags, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=help_text
            )
        else:
            parser.add_argument(*flags, dest=f.name, type=_setting_type(str(f.type)), default=None, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="baton", description="A durable workflow orchestration server.")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser(
        "serve",
        help="run the server",
        description="Run the server. Every setting is a flag here or a BATON_<NAME> environment variable; "
        "a flag wins over the variable.",
    )
    _add_setting_flags(serve)
    serve.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"], help="(default: info)"
    )
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
