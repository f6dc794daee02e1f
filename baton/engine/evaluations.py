"""How the decider gets the value of a script (INLINE, SWITCH, loopCondition) or a jq query: an ``Evaluator``.

The decider stays pure and synchronous; what it evaluates comes through
``DecideContext.evaluator``. ``InProcess`` evaluates at once in this thread
(engine tests and tools). The server gives a ``Memo``: results of this one
event's evaluations, keyed by what was evaluated (the kind, the source and the
input's JSON bytes). A miss calls the memo's ``on_miss``: on the event loop it
raises ``EvaluationNeeded`` (the decision is set aside and made again off the
loop), in a decision thread it waits for the sandbox, so the same decision made
again on the loop finds every value in the memo (``service.decisions`` holds
the whole procedure; ``docs/design.md`` the reasoning).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

import msgspec

from baton.engine import jq_transform, scripts
from baton.engine.jq_transform import JqResult
from baton.engine.scripts import ScriptResult

Kind = Literal["javascript", "jq"]
Result = ScriptResult | JqResult

_decode = msgspec.json.Decoder().decode


@dataclass(frozen=True, slots=True)
class Request:
    """One evaluation: a JavaScript source or a jq query, and its input as JSON."""

    kind: Kind
    source: str
    input_json: bytes


class Evaluator(Protocol):
    def evaluate(self, request: Request) -> Result:
        """The value of ``request``, or why there is none (never raises for anything a workflow wrote)."""


class EvaluationNeeded(Exception):
    """A decision needs a value that is not at hand: make it again where evaluating may wait."""

    def __init__(self, request: Request) -> None:
        super().__init__(f"{request.kind} evaluation needed")
        self.request = request


@dataclass(frozen=True, slots=True)
class InProcess:
    """Evaluate in this thread, bounded only by the engine's own time and memory bounds."""

    script_timeout_ms: int = scripts.DEFAULT_TIMEOUT_MS
    script_memory_bytes: int = scripts.DEFAULT_MEMORY_BYTES

    def evaluate(self, request: Request) -> Result:
        if request.kind == "jq":
            return jq_transform.transform(request.source, _decode(request.input_json))
        return scripts.evaluate(
            request.source,
            _decode(request.input_json),
            timeout_ms=self.script_timeout_ms,
            memory_bytes=self.script_memory_bytes,
        )


class Memo:
    """The values of one event's evaluations; a miss goes to ``on_miss``, whose answer is kept."""

    __slots__ = ("on_miss", "results")

    def __init__(self, on_miss: Callable[[Request], Result]) -> None:
        self.on_miss = on_miss
        self.results: dict[Request, Result] = {}

    def evaluate(self, request: Request) -> Result:
        found = self.results.get(request)
        if found is None:
            found = self.results[request] = self.on_miss(request)
        return found


def not_on_the_loop(request: Request) -> Result:
    """A memo's ``on_miss`` on the event loop: evaluating there could stall it, so the decision stops."""
    raise EvaluationNeeded(request)
