"""HTTP_ENDPOINT and HTTP_RESPONSE steps: the rules on their inputs, and route templates matched against a path.

An HTTP_ENDPOINT's ``path`` is a route template relative to the triggers' base path: literal segments
(matched without regard to case), ``{name}`` (one segment, given to the step as ``routeData.name``) and, last,
``{*name}`` (the rest of the path, possibly empty). ``methods`` (a list, or one method) defaults to
``["GET"]``. A step whose path is an expression (``orders/${workflow.input.id}``) is resolved when it is
reached; a step that can start a workflow must name its path literally, since it is matched before any run
exists.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from baton.errors import FieldError

ENDPOINT_METHODS: Final = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_PARAM: Final = re.compile(r"\{(\*?)([A-Za-z_][A-Za-z0-9_]*)\}")
_TOKEN: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
"""A header name (RFC 9110's token); matched whole (``fullmatch``): ``$`` would let a trailing newline through."""
_HEADER_VALUE_FORBIDDEN: Final = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]")
"""What a header value may not hold: line breaks and other controls (but tab), and what Latin-1 cannot write."""
_FRAMING_HEADERS: Final = frozenset(
    {"content-length", "transfer-encoding", "connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"}
)
"""Headers that say where the message ends or what the connection does: the server writes them, never a step."""
_STATUS_DIGITS: Final = re.compile(r"\s*[0-9]{3}\s*")
"""A status written as text: ASCII digits (``str.isdigit`` also takes ``²``, which ``int`` refuses)."""
VALUE_PROBLEM: Final = "must not hold line breaks, control characters or characters beyond Latin-1 (U+00FF)"
MAX_STATUS: Final = 599
MIN_STATUS: Final = 200


@dataclass(frozen=True, slots=True)
class RouteTemplate:
    """A parsed ``path``: each segment a literal (lower-cased) or a parameter's name; maybe a catch-all last."""

    text: str
    segments: tuple[tuple[bool, str], ...]
    """``(is_parameter, literal or name)`` for each segment before the catch-all."""
    rest: str | None = None
    """The catch-all parameter's name (``{*name}``), if the template ends with one."""

    @property
    def specificity(self) -> tuple[int, int, int]:
        """Orders templates that match one path: more literal segments first, then more segments, then no catch-all."""
        literals = sum(1 for is_param, _ in self.segments if not is_param)
        return (literals, len(self.segments), 0 if self.rest else 1)

    def match(self, parts: Sequence[str]) -> dict[str, str] | None:
        """The route data when the path's segments ``parts`` match, else None."""
        fixed = len(self.segments)
        if len(parts) < fixed or (self.rest is None and len(parts) != fixed):
            return None
        found: dict[str, str] = {}
        for (is_param, value), part in zip(self.segments, parts, strict=False):
            if is_param:
                if not part:
                    return None
                found[value] = part
            elif part.lower() != value:
                return None
        if self.rest is not None:
            found[self.rest] = "/".join(parts[fixed:])
        return found


def path_segments(path: str) -> list[str]:
    """The segments of a request's path below the base path (none for the base itself)."""
    trimmed = path.strip("/")
    return trimmed.split("/") if trimmed else []


def path_problem(path: str) -> str | None:
    """What makes a request's path (below the base) one no step may be given, or None.

    A ``.`` or ``..`` segment (also sent as ``%2e%2e``): a client that means one resolves it before sending, so
    one that arrives is an attempt to step outside the path, and as route data it would reach the run's own
    calls (``files/{*rest}`` given ``../../secrets``).
    """
    if any(part in (".", "..") for part in path.split("/")):
        return "must not hold '.' or '..' segments"
    return None


def parse_template(path: str) -> RouteTemplate | str:
    """The template, or what is wrong with it."""
    trimmed = path.strip().strip("/")
    if not trimmed:
        return "must name a path below the base path (e.g. 'orders/{id}')"
    segments: list[tuple[bool, str]] = []
    rest: str | None = None
    names: set[str] = set()
    parts = trimmed.split("/")
    for index, part in enumerate(parts):
        if not part:
            return f"has an empty segment: '{path}'"
        found = _PARAM.fullmatch(part)
        if found is None:
            if any(c in part for c in "{}?#") or any(ord(c) < 0x20 or ord(c) == 0x7F for c in part):
                return f"segment '{part}' must be a literal without '{{', '}}', '?' or '#', or a parameter '{{name}}'"
            segments.append((False, part.lower()))
            continue
        star, name = found.group(1), found.group(2)
        if name.lower() in names:
            return f"names the parameter '{name}' twice"
        names.add(name.lower())
        if star:
            if index != len(parts) - 1:
                return f"the catch-all '{part}' must be the last segment"
            rest = name
        else:
            segments.append((True, name))
    return RouteTemplate(text=trimmed, segments=tuple(segments), rest=rest)


def is_expression(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def endpoint_errors(params: Mapping[str, Any], at: str, *, may_start: bool) -> list[FieldError]:
    """What is wrong with an HTTP_ENDPOINT's inputs; ``may_start``: the step is a workflow's first."""
    errors: list[FieldError] = []
    starts = params.get("canStartWorkflow")
    for flag in ("canStartWorkflow", "authorize"):
        value = params.get(flag)
        if value is not None and not isinstance(value, bool):
            errors.append(FieldError(f"{at}.{flag}", "must be true or false"))
    if starts is True and not may_start:
        errors.append(FieldError(f"{at}.canStartWorkflow", "only a workflow's first task can start it"))
    path = params.get("path")
    if not isinstance(path, str):
        errors.append(FieldError(f"{at}.path", "is required for an HTTP_ENDPOINT (a route such as 'orders/{id}')"))
    elif is_expression(path):
        if starts is True:
            errors.append(FieldError(f"{at}.path", "must be written out (no expression) when the task can start"))
    else:
        template = parse_template(path)
        if isinstance(template, str):
            errors.append(FieldError(f"{at}.path", template))
    methods = params.get("methods")
    if isinstance(methods, str) and not is_expression(methods):
        methods = [methods]
    if methods is not None and not (is_expression(methods) and starts is not True):
        if not isinstance(methods, list) or not methods:
            errors.append(FieldError(f"{at}.methods", f"must be a non-empty list of {', '.join(ENDPOINT_METHODS)}"))
        else:
            for index, method in enumerate(methods):
                if not isinstance(method, str) or method.upper() not in ENDPOINT_METHODS:
                    errors.append(FieldError(f"{at}.methods[{index}]", f"must be one of {', '.join(ENDPOINT_METHODS)}"))
    for field in ("requestSizeLimit", "requestTimeoutSeconds"):
        value = params.get(field)
        if value is None or is_expression(value):
            continue
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0 or value >= 2**31:
            errors.append(FieldError(f"{at}.{field}", "must be a positive number"))
    return errors


def response_errors(params: Mapping[str, Any], at: str) -> list[FieldError]:
    """What is wrong with an HTTP_RESPONSE's inputs (an expression is checked when the step runs)."""
    errors: list[FieldError] = []
    status = params.get("statusCode")
    if status is not None and not is_expression(status) and status_code(status) is None:
        errors.append(FieldError(f"{at}.statusCode", f"must be a whole number from {MIN_STATUS} to {MAX_STATUS}"))
    headers = params.get("headers")
    if headers is not None and not is_expression(headers):
        problem = header_problem(headers)
        if problem is not None:
            errors.append(FieldError(f"{at}.headers{problem[0]}", problem[1]))
    content_type = params.get("contentType")
    problem_of_type = None if is_expression(content_type) else content_type_problem(content_type)
    if problem_of_type is not None:
        errors.append(FieldError(f"{at}.contentType", problem_of_type))
    return errors


def status_code(value: Any) -> int | None:
    """An HTTP_RESPONSE's status (a whole number, or digits in a string), or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and _STATUS_DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and MIN_STATUS <= value <= MAX_STATUS:
        return value
    return None


def header_problem(headers: Any) -> tuple[str, str] | None:
    """``(path suffix, message)`` when ``headers`` is not a map of header names to scalar values HTTP can carry."""
    if not isinstance(headers, dict):
        return "", "must be an object of header names to values"
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            return f".{name}", "is not a valid header name (letters, digits and !#$%&'*+.^_`|~-)"
        if name.lower() in _FRAMING_HEADERS:
            return f".{name}", "is written by the server, not by a step"
        if isinstance(value, dict | list) or value is None:
            return f".{name}", "must be a string, a number or a boolean"
        if _HEADER_VALUE_FORBIDDEN.search(str(value)):
            return f".{name}", VALUE_PROBLEM
    return None


def content_type_problem(value: Any) -> str | None:
    """What is wrong with an HTTP_RESPONSE's ``contentType`` (None: absent or fine)."""
    if value is None:
        return None
    if not isinstance(value, str):
        return "must be a string"
    return VALUE_PROBLEM if _HEADER_VALUE_FORBIDDEN.search(value) else None
