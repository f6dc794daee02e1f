"""``baton serve`` runs the server; ``baton worker module:function ...`` runs Python workers against one."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import socket
import sys
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import Any

from baton import __version__
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


class StartError(Exception):
    """What stops ``baton serve`` before it serves, said in one line (the port is taken, the database unreachable)."""


def _listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``, handed to uvicorn, so that a taken port is known before anything is said."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except OSError as exc:
        raise StartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn does: a restart may take the port while the last run's connections linger in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise StartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return sock


def shown_database_url(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***`` (it is printed and logged)."""
    scheme, sep, rest = url.partition("://")
    credentials, at, place = rest.rpartition("@")
    if not sep or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{place}"


def _check_store(settings: Settings) -> None:
    """Open the store (running its migrations) and close it again: a database that cannot be reached, created or
    read stops the start here, in one line, instead of in the app's lifespan with a traceback."""
    from baton.errors import BatonError
    from baton.store import open_store

    async def open_and_close() -> None:
        store = open_store(settings.database_url, pool_min_size=1, pool_max_size=2)
        await store.open()
        await store.close()

    try:
        asyncio.run(open_and_close())
    except (BatonError, OSError, TimeoutError, ValueError) as exc:  # ValueError: a URL of no store's scheme
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise StartError(f"cannot open the database {shown_database_url(settings.database_url)}: {reason}") from None


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from baton.server import create_app

    try:
        settings = Settings.from_env(**{f.name: getattr(args, f.name) for f in fields(Settings)})
    except ValueError as exc:
        print(f"baton serve: error: {exc}", file=sys.stderr)
        return 2
    try:
        sock = _listening_socket(settings.host, settings.port)
        try:
            _check_store(settings)
        except StartError:
            sock.close()
            raise
    except StartError as exc:
        print(f"baton serve: error: {exc}", file=sys.stderr)
        return 1
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs each outbound request's URL at INFO, and an HTTP task's URL may hold a secret's value.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # What is loaded by now lives as long as the process: later collections need not walk it.
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_FIRST_THRESHOLD, 10, 10)
    shown = shown_database_url(settings.database_url)
    print(f"baton: serving on http://{settings.host}:{settings.port} with {shown}", flush=True)
    config = uvicorn.Config(
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
    uvicorn.Server(config).run(sockets=[sock])
    return 0


QUIET_LOGGERS = ("httpx", "httpcore")
"""Loggers that say a line per HTTP request at INFO: a worker's every poll. Heard only with ``--log-level debug``."""


def _worker(args: argparse.Namespace) -> int:
    from baton.sdk.cli import run_workers_main

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level != "debug":
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.WARNING)
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
    parser.add_argument("--version", action="version", version=f"baton {__version__}")
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

    worker = commands.add_parser(
        "worker",
        help="run Python workers (module:function specs)",
        description="Run @worker_task functions (or plain functions) against a Baton server until SIGINT or "
        "SIGTERM. A spec is imported from the current directory, as `python -m` would: run it from the folder "
        "that holds your module, or give the module's file path (examples/workers.py). Logs say when the "
        "worker starts and stops and each task that fails; --log-level debug shows every poll.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    worker.add_argument(
        "specs",
        nargs="+",
        metavar="spec",
        help="module:function, module:function=task_type, module (its every @worker_task), or a file path "
        "(path/to/workers.py, path/to/workers.py:function)",
    )
    worker.add_argument("--server", default="http://127.0.0.1:8080", help="Baton's base URL")
    worker.add_argument("--concurrency", type=int, default=4, help="tasks of each task type run at once")
    worker.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"], help="log level")
    worker.set_defaults(run=_worker)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
