"""The shape of the code: imports point down only, no route's meaning depends on its place in a list, and
each surface answers its errors in its own shape.

Every module of ``baton/`` is parsed with ``ast`` (imports inside functions and
under ``TYPE_CHECKING`` count too) and each import of another part of ``baton``
is checked against the layers of ``docs/design.md``, lowest first:

    errors, config, examples   what everything may use
    model                      typed data, JSON in and out
    sandbox                    child processes for scripts and jq (imports nothing of baton's)
    engine                     the decider; runs scripts in process through sandbox's evaluators
    store                      may import engine (the decision it writes, the timer rule); engine never the store
    service                    use cases, and the wake-up interface (service/wakeups.py)
    runtime                    the loops beside the API; implements the wake-ups
    api                        the surfaces; they reach engine, store, sandbox and runtime only through service
    server, http_protocol      builds the app; the HTTP protocol it is served with
    cli, then __main__         entry points

``sdk`` is a client: it imports only ``model`` and ``errors``, and only ``cli`` imports it.
A module may import its own part and the parts below it, nothing else.
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Sequence
from pathlib import Path

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Route

import baton
from baton.api import conductor
from baton.api.errors import exception_handlers
from baton.api.responses import ErrorBody, JSONResponse
from baton.api.routing import NarrowedRoute, Surface
from baton.errors import FieldError, NotFoundError

LAYERS: dict[str, int] = {
    "errors": 0,
    "config": 0,
    "examples": 0,
    "model": 1,
    "sandbox": 2,
    "engine": 3,
    "store": 4,
    "service": 5,
    "runtime": 6,
    "api": 7,
    "server": 8,
    "http_protocol": 8,
    "cli": 9,
    "__main__": 10,
}
ONLY_THROUGH_THE_SERVICE = {"api": frozenset({"engine", "store", "sandbox", "runtime"})}
"""Parts a part must not import although they are below it: it reaches them through ``service``."""
CLIENT = "sdk"
CLIENT_IMPORTS = frozenset({"model", "errors"})
CLIENT_IMPORTED_BY = frozenset({"cli"})

BATON_ROOT = Path(baton.__file__).parent


def _modules(root: Path, package: str) -> dict[str, Path]:
    """Every module under ``root`` by dotted name (a package by its own name)."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _imports(module: str, path: Path, known: set[str]) -> list[tuple[int, str, str]]:
    """``(line, module imported, the statement)`` for every import in the module, relative ones resolved."""
    tree = ast.parse(path.read_text(), filename=str(path))
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: list[tuple[int, str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name, ast.unparse(node)) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - (node.level - 1)]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            # `from baton import engine` imports the module baton.engine, not the package baton.
            named = (f"{source}.{alias.name}" for alias in node.names)
            targets = {name if name in known else source for name in named}
            found.extend((node.lineno, target, ast.unparse(node)) for target in sorted(targets))
    return found


def _part(module: str) -> str:
    """The part of the code a module belongs to: ``baton.api.conductor.tasks`` is in ``api``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def import_violations(root: Path, package: str = "baton") -> list[str]:
    """One line per import the layers forbid, naming the file, the line and the import; and modules in no layer."""
    modules = _modules(root, package)
    known = set(modules)
    problems: list[str] = []
    for module, path in modules.items():
        if module == package:
            continue
        importer = _part(module)
        where = f"{path.relative_to(root.parent)}"
        if importer not in LAYERS and importer != CLIENT:
            problems.append(f"{where}: {importer} is in no layer (add it to LAYERS and to docs/design.md)")
            continue
        for line, target, statement in _imports(module, path, known):
            if target != package and not target.startswith(package + "."):
                continue
            imported = _part(target)
            if imported == importer or target == package:
                continue
            at = f"{where}:{line}: {statement}"
            if importer == CLIENT:
                if imported not in CLIENT_IMPORTS:
                    problems.append(f"{at}: sdk is a client and imports only {', '.join(sorted(CLIENT_IMPORTS))}")
            elif imported == CLIENT:
                if importer not in CLIENT_IMPORTED_BY:
                    problems.append(f"{at}: only {', '.join(sorted(CLIENT_IMPORTED_BY))} imports the sdk")
            elif imported not in LAYERS:
                problems.append(f"{at}: {imported} is in no layer")
            elif LAYERS[imported] >= LAYERS[importer]:
                problems.append(f"{at}: {importer} imports {imported}, which is not below it")
            elif imported in ONLY_THROUGH_THE_SERVICE.get(importer, ()):
                problems.append(f"{at}: {importer} reaches {imported} only through service")
    return problems


def test_no_module_imports_upward() -> None:
    problems = import_violations(BATON_ROOT)
    assert not problems, "imports against the layers:\n" + "\n".join(problems)


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_an_upward_import_is_named(tmp_path: Path) -> None:
    root = tmp_path / "baton"
    _write(
        root,
        {
            "__init__.py": "",
            "errors.py": "",
            "model/__init__.py": "from .. import errors\n",
            "model/runs.py": "from ..engine import decide\n",
            "engine/__init__.py": "def decide() -> None:\n    import baton.store.sql\n",
            "store/__init__.py": "",
            "store/sql.py": "from baton import engine\nfrom baton.model import runs\n",
            "service/__init__.py": "from baton.runtime.notifier import Notifier\n",
            "runtime/__init__.py": "",
            "runtime/notifier.py": "from baton.service import wakeups\n",
            "api/__init__.py": "",
            "api/conductor/__init__.py": "from baton.store import sql\nfrom baton.service import Baton\n",
            "sdk/__init__.py": "from baton.service import Baton\nfrom baton.model import runs\n",
            "ui/__init__.py": "",
        },
    )
    assert sorted(import_violations(root)) == sorted(
        [
            "baton/model/runs.py:1: from ..engine import decide: model imports engine, which is not below it",
            "baton/engine/__init__.py:2: import baton.store.sql: engine imports store, which is not below it",
            "baton/service/__init__.py:1: from baton.runtime.notifier import Notifier: "
            "service imports runtime, which is not below it",
            "baton/api/conductor/__init__.py:1: from baton.store import sql: api reaches store only through service",
            "baton/sdk/__init__.py:1: from baton.service import Baton: sdk is a client and imports only errors, model",
            "baton/ui/__init__.py: ui is in no layer (add it to LAYERS and to docs/design.md)",
        ]
    )


def _methods(route: Route) -> set[str]:
    return set(route.methods or ())


def _overlap(first: Route, second: Route) -> str | None:
    """A path both routes would serve for one method, if there is one (``str`` and ``int`` parameters)."""
    first_parts, second_parts = first.path.split("/"), second.path.split("/")
    if len(first_parts) != len(second_parts):
        return None
    segments: list[str] = []
    for one, other in zip(first_parts, second_parts, strict=True):
        literal = [part for part in (one, other) if not part.startswith("{")]
        if len(literal) == 2 and one != other:
            return None
        segments.append(literal[0] if literal else ("7" if ":int}" in one + other else "x1"))
    path = "/".join(segments)
    for method in sorted(_methods(first) & _methods(second)):
        scope = {"type": "http", "path": path, "method": method, "root_path": ""}
        if first.matches(scope)[0] is Match.FULL and second.matches(scope)[0] is Match.FULL:
            return f"{method} {path}"
    return None


def ambiguities(routes: Sequence[BaseRoute]) -> list[str]:
    """Each path served by two routes of the list, so that which one serves it depends on their order."""
    plain = [route for route in routes if isinstance(route, Route)]
    found: list[str] = []
    for first, second in itertools.combinations(plain, 2):
        overlap = _overlap(first, second)
        if overlap is not None:
            found.append(f"{overlap}: {first.path} and {second.path}")
    return found


def test_no_conductor_path_has_two_routes() -> None:
    assert ambiguities(conductor.routes) == []


def _endpoint() -> None:
    """A route's endpoint, never called here."""


def test_two_routes_for_one_path_are_found() -> None:
    routes = [
        Route("/run/search", _endpoint, methods=["GET"]),
        Route("/run/{run_id}", _endpoint, methods=["GET", "DELETE"]),
        Route("/run/execute/{name}/{version:int}", _endpoint, methods=["POST"]),
        Route("/run/{run_id}/rerun/{step}", _endpoint, methods=["POST"]),
    ]
    execute_or_rerun = "POST /run/execute/rerun/7: /run/execute/{name}/{version:int} and /run/{run_id}/rerun/{step}"
    assert ambiguities(routes) == ["GET /run/search: /run/search and /run/{run_id}", execute_or_rerun]
    routes[1] = NarrowedRoute("/run/{run_id}", _endpoint, methods=["GET"], reserved={"run_id": ["search"]})
    assert ambiguities(routes) == [execute_or_rerun]


def _body_named(surface: str) -> ErrorBody:
    def body(status: int, message: str, fields: list[FieldError]) -> Response:
        return JSONResponse({surface: message}, status_code=status)

    return body


async def _missing(request: Request) -> Response:
    raise NotFoundError("No such run: r1")


async def test_each_surface_answers_its_errors_in_its_own_shape() -> None:
    app = Starlette(
        routes=[
            Surface("/a", [Route("/runs/{id}", _missing)], exception_handlers(_body_named("a"))),
            Surface("/b", [Route("/runs/{id}", _missing)], exception_handlers(_body_named("b"))),
        ],
        exception_handlers=exception_handlers(_body_named("root")),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://baton") as client:
        answers = [
            (response.status_code, response.json())
            for response in [
                await client.get("/a/runs/r1"),
                await client.get("/b/runs/r1"),
                await client.get("/b/nowhere"),
                await client.post("/a/runs/r1"),
                await client.get("/a"),
                await client.get("/elsewhere"),
            ]
        ]
    assert answers == [
        (404, {"a": "No such run: r1"}),
        (404, {"b": "No such run: r1"}),
        (404, {"b": "No route for GET /b/nowhere"}),
        (405, {"a": "Method POST is not allowed on /a/runs/r1"}),
        (404, {"root": "No route for GET /a"}),
        (404, {"root": "No route for GET /elsewhere"}),
    ]
