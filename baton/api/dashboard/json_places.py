"""Where each value of a JSON text begins, by the path the API's errors name it with (``tasks[2].taskReferenceName``),
so the editor can take a person to the line and column of a field at fault.

A small scanner over text already known to parse (``json.loads`` took it): objects, arrays, strings with their
escapes, and the other literals as runs of characters. A member of an object is placed at its key, an item of an
array at its value.
"""

from __future__ import annotations

import json
import re

_LITERAL = re.compile(r"[^,\]}\s]+")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_SPACE = re.compile(r"\s*")

Place = tuple[int, int]
"""A line and a column, both from 1."""


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Scanner:
    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.offsets: dict[str, int] = {}

    def skip_space(self) -> None:
        found = _SPACE.match(self.text, self.at)
        self.at = found.end() if found else self.at

    def string(self) -> str:
        found = _STRING.match(self.text, self.at)
        if found is None:
            raise ValueError(f"no string at {self.at}")
        self.at = found.end()
        decoded: str = json.loads(found.group())
        return decoded

    def value(self, path: str) -> None:
        self.skip_space()
        opening = self.text[self.at : self.at + 1]
        if opening == "{":
            self.members(path)
        elif opening == "[":
            self.items(path)
        elif opening == '"':
            self.string()
        else:
            found = _LITERAL.match(self.text, self.at)
            self.at = found.end() if found else self.at + 1

    def members(self, path: str) -> None:
        self.at += 1
        while True:
            self.skip_space()
            if self.text[self.at : self.at + 1] in ("}", ""):
                self.at += 1
                return
            if self.text[self.at] == ",":
                self.at += 1
                continue
            start = self.at
            key = self.string()
            self.offsets.setdefault(_child(path, key), start)
            self.skip_space()
            self.at += 1  # the colon
            self.value(_child(path, key))

    def items(self, path: str) -> None:
        self.at += 1
        index = 0
        while True:
            self.skip_space()
            if self.text[self.at : self.at + 1] in ("]", ""):
                self.at += 1
                return
            if self.text[self.at] == ",":
                self.at += 1
                continue
            self.offsets.setdefault(f"{path}[{index}]", self.at)
            self.value(f"{path}[{index}]")
            index += 1


def _parent(path: str) -> str | None:
    """``tasks[1]`` for ``tasks[1].name``, ``tasks`` for ``tasks[1]``, None for a top-level name."""
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else None


def place_of(text: str, path: str) -> Place | None:
    """Where the field ``path`` is written in the JSON ``text``, or the nearest field that holds it (a field the
    text leaves out is reported at what would hold it); None for a path outside the text."""
    scanner = _Scanner(text)
    try:
        scanner.value("")
    except (ValueError, IndexError):
        return None
    wanted: str | None = path
    while wanted is not None and wanted not in scanner.offsets:
        wanted = _parent(wanted)
    if wanted is None:
        return None
    offset = scanner.offsets[wanted]
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1
