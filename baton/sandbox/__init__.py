"""The evaluation sandbox: JavaScript and jq in child processes, killable, bounded, isolated.

``Sandbox`` (``sandbox.py``) is what the server uses; ``pool.py`` runs the
children, ``child.py`` is a child, ``protocol.py`` what they say to each other;
``v8.py`` and ``jq_eval.py`` evaluate (also in process, for ``engine.scripts``
and ``engine.jq_transform``); ``results.py`` holds the result types. The names
below are imported on first use, so a child imports none of the parent's side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from baton.sandbox.results import JqResult, ScriptResult
    from baton.sandbox.sandbox import Sandbox

__all__ = ["JqResult", "Sandbox", "ScriptResult"]


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        from baton.sandbox.sandbox import Sandbox

        return Sandbox
    if name in ("JqResult", "ScriptResult"):
        from baton.sandbox import results

        return getattr(results, name)
    raise AttributeError(f"module 'baton.sandbox' has no attribute {name!r}")
