"""What an evaluation gives back: a script's value or a jq query's results, or why there are none.

Both types are plain values shared by the in-process evaluators (``engine.scripts``,
``engine.jq_transform``, which re-export them) and the sandbox's parent side. ``limit``
is True when the error is a bound (time, memory, output size) rather than the
workflow's own mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ScriptResult:
    """A script's value (JSON-compatible; ``undefined`` is None), or why there is none."""

    value: Any = None
    error: str | None = None
    limit: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True, slots=True)
class JqResult:
    """The first value (``result``) and all values (``result_list``), or why there are none."""

    result: Any = None
    result_list: list[Any] = field(default_factory=list)
    error: str | None = None
    limit: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def time_limit_text(timeout_ms: int) -> str:
    """The error text for an evaluation stopped at its time bound."""
    return f"exceeded {timeout_ms} ms"


def memory_limit_text(memory_bytes: int) -> str:
    """The error text for an evaluation stopped at its memory bound."""
    return f"exceeded its memory limit of {memory_bytes / (1 << 20):g} MiB"


def output_limit_text(max_bytes: int) -> str:
    """The error text for a jq query whose results are too large."""
    return f"output exceeded {max_bytes} bytes"
