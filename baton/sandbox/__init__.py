"""The evaluation sandbox: JavaScript and jq in child processes, killable, bounded, isolated.

``Sandbox`` (``sandbox.py``) is what the server uses; ``pool.py`` runs the
children, ``child.py`` is a child, ``protocol.py`` what they say to each other;
``v8.py`` and ``jq_eval.py`` evaluate (also in process, for ``engine.scripts``
and ``engine.jq_transform``); ``results.py`` holds the result types.
"""

from baton.sandbox.results import JqResult, ScriptResult
from baton.sandbox.sandbox import Sandbox

__all__ = ["JqResult", "Sandbox", "ScriptResult"]
