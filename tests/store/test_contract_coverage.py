"""Every method of every store role is called by the contract suite, which runs on both stores.

The contract suite is the test modules here whose tests or fixtures take the
``store`` fixture (``conftest.py``: a fresh SQLite file and a fresh PostgreSQL
database), with that fixture itself and the helpers they build runs with. A method
no such module uses is a method one of the stores could get wrong unseen: add a
contract test for it.
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path
from typing import Protocol

from baton.store import roles

HERE = Path(__file__).parent
HELPERS = ("conftest.py", "store_builders.py")


def _role_methods() -> dict[str, str]:
    """Each public method of the roles, with the role that declares it."""
    found: dict[str, str] = {}
    for name, role in vars(roles).items():
        if inspect.isclass(role) and issubclass(role, Protocol) and role.__module__ == roles.__name__:
            for method, value in vars(role).items():
                if callable(value) and not method.startswith("_"):
                    found.setdefault(method, name)
    return found


def _takes_the_store_fixture(tree: ast.Module) -> bool:
    return any(
        isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(arg.arg == "store" for arg in node.args.args)
        for node in ast.walk(tree)
    )


def _used_by_the_contract_suite() -> set[str]:
    called: set[str] = set()
    for path in sorted(HERE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if path.name in HELPERS or _takes_the_store_fixture(tree):
            called |= {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    return called


def test_the_roles_are_read() -> None:
    methods = _role_methods()
    assert {"put_workflow_defs", "transact", "claim_tasks", "search_runs", "open"} <= set(methods)


def test_every_store_method_is_exercised_by_the_contract_suite() -> None:
    called = _used_by_the_contract_suite()
    missing = sorted(f"{role}.{method}" for method, role in _role_methods().items() if method not in called)
    assert missing == [], f"no contract test calls {', '.join(missing)}"
