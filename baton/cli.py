"""``baton serve`` runs the server; ``baton worker module:function ...`` runs Python workers against one;
``baton keys create|list|revoke`` manage access keys in the database; ``baton token`` prints a token."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import socket
import sys
from collections.abc import Callable
from dataclasses import MISSING, fields
from typing import TYPE_CHECKING, Any

from baton import __version__
from baton.config import Settings, parse_setting, setting_docs

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from baton.service.access import AccessService
    from baton.store import Store

GC_FIRST_THRESHOLD = 10_000
"""Allocations between young collections in ``baton serve`` (CPython's default is 700).

A request allocates thousands of short-lived objects; with the default, W1 on PostgreSQL spent 8 % of
the server's CPU in collections, among them full ones of ~45 ms that stop the event loop. Set by the
serve command, not the app: an app embedded in another process leaves that process's collector alone.
"""

GIL_SWITCH_INTERVAL_S = 0.001
"""How long a thread holding the GIL runs before another that wants it may take it (CPython's default: 5 ms).

A large decision is made and written in threads (a 20,000-branch fork's termination), and each time the event
loop wants the GIL back, to answer a request, it may wait a whole interval; a request needs it a dozen times.
With the default, a /health probe during such a termination on SQLite took over 100 ms in 2 of 8 runs on a loaded
2-core machine (at most 53 ms in 8 with 1 ms). Set by the serve command, as the collector's thresholds are.
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

    from baton.http_protocol import PairedWritesHttpToolsProtocol
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
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    shown = shown_database_url(settings.database_url)
    print(f"baton: serving on http://{settings.host}:{settings.port} with {shown}", flush=True)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http=PairedWritesHttpToolsProtocol,
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


def _access_service(database: str | None) -> tuple[Store, AccessService]:
    """The store of ``database`` (else ``BATON_DATABASE_URL``, else the default) and the access use cases over it."""
    from baton.service.access import AccessService
    from baton.service.context import ServiceContext
    from baton.store import open_store

    settings = Settings.from_env(database_url=database)
    store = open_store(settings.database_url, pool_min_size=1, pool_max_size=2)
    return store, AccessService(ServiceContext(store=store, settings=settings))


def _run_on_store(args: argparse.Namespace, action: Callable[[AccessService], Awaitable[None]]) -> int:
    """Run ``action(access service)`` on the database; a BatonError is one line on stderr and exit 1."""
    from baton.errors import BatonError

    async def run() -> None:
        store, access = _access_service(args.db)
        await store.open()
        try:
            await action(access)
        finally:
            await store.close()

    try:
        asyncio.run(run())
    except (BatonError, OSError, ValueError) as exc:
        message = exc.message if isinstance(exc, BatonError) else str(exc)
        print(f"baton {args.command}: error: {message}", file=sys.stderr)
        return 1
    return 0


def _keys_create(args: argparse.Namespace) -> int:
    from baton.service.access import parse_roles

    async def create(access: AccessService) -> None:
        roles = parse_roles(args.role, "--role")
        task_types = frozenset(args.task_type) if args.task_type else None
        queues = frozenset(args.queue) if args.queue else None
        name = args.name or "-".join(sorted(roles)).lower()
        application = await access.create_application(name, roles, task_types=task_types, queues=queues)
        made = await access.create_key(application.id)
        shown = {
            "keyId": made.key.id,
            "keySecret": made.secret,
            "applicationId": application.id,
            "name": application.name,
            "roles": sorted(roles),
        }
        print(json.dumps(shown, indent=2))
        print("The secret is shown this once; keep it.", file=sys.stderr)

    return _run_on_store(args, create)


def _keys_list(args: argparse.Namespace) -> int:
    async def show(access: AccessService) -> None:
        applications = {a.id: a for a in await access.list_applications()}
        print(f"{'KEY ID':38} {'STATUS':9} {'APPLICATION':20} ROLES")
        for key in await access.list_keys():
            application = applications.get(key.application_id)
            name = application.name if application else "?"
            roles = ",".join(sorted(application.roles)) if application else ""
            print(f"{key.id:38} {key.status.value:9} {name:20} {roles}")

    return _run_on_store(args, show)


def _keys_revoke(args: argparse.Namespace) -> int:
    async def revoke(access: AccessService) -> None:
        key = await access.revoke_key(args.key_id)
        print(
            f"revoked {key.id}: its tokens stop at once on servers that read it since, within "
            f"{Settings().access_cache_seconds:g} s on the others"
        )

    return _run_on_store(args, revoke)


def _token(args: argparse.Namespace) -> int:
    """A token from the server (``POST /api/token``) for the key in BATON_KEY_ID/SECRET or the credentials file."""
    import httpx

    from baton.model.credentials import credentials_path, find_credentials, read_credentials

    found = find_credentials()
    if found is None:
        print(
            f"baton token: error: no key: set BATON_KEY_ID and BATON_KEY_SECRET, or run `baton serve` once to write "
            f"{credentials_path()}",
            file=sys.stderr,
        )
        return 1
    in_file = read_credentials(credentials_path())
    server = args.server or (in_file.server_url if in_file and in_file.server_url else "http://127.0.0.1:8080")
    try:
        answer = httpx.post(
            server.rstrip("/") + "/api/token", json={"keyId": found.key_id, "keySecret": found.key_secret}, timeout=10
        )
    except httpx.TransportError as exc:
        print(f"baton token: error: cannot reach {server}: {exc}", file=sys.stderr)
        return 1
    if answer.status_code != 200:
        print(f"baton token: error: {server} answered {answer.status_code}: {answer.text}", file=sys.stderr)
        return 1
    print(answer.json()["token"])
    return 0


def _add_access_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = commands.add_parser("keys", help="make, list and revoke access keys (in the database, as serve --db)")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new application with the roles given, and a key of it")
    create.add_argument("--role", action="append", required=True, help="ADMIN, OPERATOR, WORKER, VIEWER, REVIEWER")
    create.add_argument("--name", help="the application's name (default: its roles)")
    create.add_argument("--task-type", action="append", help="a WORKER key's task type (repeat; default: all)")
    create.add_argument("--queue", action="append", help="a REVIEWER key's case queue (repeat; default: all)")
    create.set_defaults(run=_keys_create)
    listed = actions.add_parser("list", help="every key, its status, application and roles")
    listed.set_defaults(run=_keys_list)
    revoke = actions.add_parser("revoke", help="turn a key off, and every token made from it")
    revoke.add_argument("key_id")
    revoke.set_defaults(run=_keys_revoke)
    for action in (create, listed, revoke):
        action.add_argument("--db", help="the database (default: BATON_DATABASE_URL, else sqlite:///baton.db)")
    token = commands.add_parser(
        "token",
        help="print a token for the key in BATON_KEY_ID/BATON_KEY_SECRET or the credentials file",
        description="Ask the server for a token (POST /api/token) for the key in BATON_KEY_ID/BATON_KEY_SECRET, "
        "else in the credentials file the first `baton serve` wrote; e.g. "
        'curl -H "X-Authorization: $(baton token)" http://127.0.0.1:8080/api/metadata/workflow',
    )
    token.add_argument("--server", help="Baton's base URL (default: the credentials file's, else 127.0.0.1:8080)")
    token.set_defaults(run=_token)


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
    _add_access_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
