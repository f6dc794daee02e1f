"""Secrets as runs see them: the names a secret may have, and where a task's input takes secret values.

A step's input refers to a secret as ``${workflow.secrets.<name>}``. The stored task holds ``***`` there, and
``SecretInput`` records how to write the real text when the task is handed to the one that runs it: the text
around each secret and the secrets' names, never their values.
"""

from __future__ import annotations

import re
from typing import Final

import msgspec

MASK: Final = "***"
"""What a secret's value is shown as: in a task's input, a run, an error, a log."""

SECRET_NAME_MAX_LENGTH: Final = 255
_SECRET_NAME: Final = re.compile(r"[A-Za-z0-9_-]+")


def secret_name_problem(name: str) -> str | None:
    """What is wrong with ``name`` as a secret's name; None if nothing.

    Letters, digits, ``_`` and ``-``: every such name can be written in ``${workflow.secrets.<name>}``.
    """
    if not name:
        return "must not be empty"
    if len(name) > SECRET_NAME_MAX_LENGTH:
        return f"must be at most {SECRET_NAME_MAX_LENGTH} characters, got {len(name)}"
    if _SECRET_NAME.fullmatch(name) is None:
        return "must hold only letters, digits, '_' and '-'"
    return None


class SecretInput(msgspec.Struct, frozen=True, kw_only=True, rename="camel"):
    """One string of a task's input that holds secrets: at ``path`` (keys and list indices from the input's
    top), the text is ``texts[0] + value of names[0] + texts[1] + ... + texts[-1]``."""

    path: list[str | int]
    texts: list[str]
    names: list[str]

    def text_with(self, values: dict[str, str]) -> str:
        """The string with each secret's value in its place."""
        pieces = [self.texts[0]]
        for name, text in zip(self.names, self.texts[1:], strict=True):
            pieces.append(values[name])
            pieces.append(text)
        return "".join(pieces)
