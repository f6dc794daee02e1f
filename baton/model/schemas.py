"""JSON Schemas of definitions (``inputSchema``, ``outputSchema`` with ``enforceSchema``): checked, then enforced.

``schema_errors`` is what registration refuses (a schema that is not a JSON Schema,
or one that breaks a bound); ``first_violation`` checks a value against a schema
and names the field at fault (``input.amount: 'x' is not of type 'number'``).
Validation runs where it is asked for (the decider, a start), so it is bounded
by construction rather than by where it runs (``docs/design.md``, "Schemas"):

* a schema is at most ``MAX_SCHEMA_BYTES`` of JSON, ``MAX_SCHEMA_DEPTH`` levels deep
  and ``MAX_SCHEMA_OBJECTS`` objects, and refers (``$ref``) only within itself:
  nothing is ever fetched. Checking one against its meta-schema (jsonschema's
  ``check_schema``, whose 2020-12 dynamic references cost about 0.6 ms an object)
  still takes up to a second, so the service runs registration's checks of
  definitions holding schemas in a thread (``carries_schemas``);
* one validation applies at most a given number of keywords (counted, so the
  outcome is the same wherever and whenever it runs): ``ON_LOOP_STEPS`` (about
  20 ms) where the event loop waits for it, ``MAX_STEPS`` in a thread; running
  out raises ``OutOfSteps``, for the caller to move off the loop or to report;
* regular expressions (``pattern``, ``patternProperties``) run on the ``regex``
  module with a time limit (``REGEX_BUDGET_MS`` for all of one validation's), so
  a backtracking pattern cannot hold the thread;
* ``uniqueItems`` hashes the items (linear) instead of comparing every pair.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from time import monotonic
from typing import Any, Final
from urllib.parse import unquote

import jsonschema
import msgspec
import regex
from jsonschema import ValidationError as SchemaViolation
from jsonschema.exceptions import SchemaError
from jsonschema.protocols import Validator

from baton.errors import FieldError
from baton.model.definitions import SchemaDef

MAX_SCHEMA_BYTES: Final = 64 * 1024
MAX_SCHEMA_DEPTH: Final = 32
MAX_SCHEMA_OBJECTS: Final = 1_000
ON_LOOP_STEPS: Final = 2_000
MAX_STEPS: Final = 300_000
REGEX_BUDGET_MS: Final = 50
JSON_SCHEMA: Final = "JSON"

_encode = msgspec.json.Encoder().encode


@dataclass
class _Budget:
    steps: int
    allowed: int = 0
    regex_deadline: float | None = None


class OutOfSteps(Exception):
    """The validation applied its whole allowance of keywords without finishing."""

    def __init__(self, steps: int) -> None:
        super().__init__(f"the check took more than {steps} steps")
        self.steps = steps


class _OutOfTime(Exception):
    pass


_budget: ContextVar[_Budget] = ContextVar("baton_schema_budget")
_validator_for: Callable[..., type[Validator] | None] = jsonschema.validators.validator_for
"""With ``default=None`` it answers None for a ``$schema`` it does not know (its stub allows no None)."""


def schema_errors(schema: SchemaDef | None, *, enforced: bool) -> list[tuple[str, str]]:
    """What is wrong with ``schema`` as a definition's schema: (path under it, message) pairs.

    Without ``enforced`` a schema is only kept (as Conductor keeps it): its ``data``, if
    given as JSON Schema, must still be one. Enforced, it must be an inline JSON Schema.
    """
    if schema is None:
        return []
    problems: list[tuple[str, str]] = []
    if enforced and schema.type != JSON_SCHEMA:
        problems.append(("type", f"must be {JSON_SCHEMA} to be enforced (Baton enforces JSON Schema only)"))
    if schema.data is None:
        if enforced:
            problems.append(("data", "is required to enforce the schema: Baton has no schema registry"))
        return problems
    if schema.type != JSON_SCHEMA:
        return problems
    size = len(_encode(schema.data))
    if size > MAX_SCHEMA_BYTES:
        problems.append(("data", f"must be at most {MAX_SCHEMA_BYTES} bytes of JSON, got {size}"))
        return problems
    depth, objects = _shape(schema.data)
    if depth > MAX_SCHEMA_DEPTH:
        problems.append(("data", f"must nest at most {MAX_SCHEMA_DEPTH} levels, got {depth}"))
        return problems
    if objects > MAX_SCHEMA_OBJECTS:
        problems.append(("data", f"must hold at most {MAX_SCHEMA_OBJECTS} objects, got {objects}"))
        return problems
    for where, message in _reference_and_pattern_problems(schema.data, "data"):
        problems.append((where, message))
    if problems:
        return problems
    problems.extend(_dangling_references(schema.data))
    if problems:
        return problems
    dialect = schema.data.get("$schema")
    if dialect is not None and _validator_for(schema.data, default=None) is None:
        problems.append(("data.$schema", f"names no JSON Schema draft jsonschema knows: {dialect!r}"))
        return problems
    cls = _validator_class(schema.data)
    try:
        cls.check_schema(schema.data)
    except SchemaError as exc:
        problems.append((_path("data", exc.absolute_path), f"is not a valid JSON Schema: {exc.message}"))
    return problems


def first_violation(data: dict[str, Any], instance: Any, root: str, *, max_steps: int = MAX_STEPS) -> FieldError | None:
    """The first way ``instance`` breaks the JSON Schema ``data``, its path under ``root``; None if none.

    Raises ``OutOfSteps`` when ``max_steps`` keywords did not finish the check.
    """
    token = _budget.set(_Budget(steps=max_steps, allowed=max_steps))
    try:
        validator = _bounded(_validator_class(data))(data)
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    except _OutOfTime:
        return FieldError(root, f"not validated: more than {REGEX_BUDGET_MS} ms went on regular expressions")
    except OutOfSteps:
        raise
    except Exception as exc:  # referencing's Unresolvable and the like: the schema, not the value, is at fault
        return FieldError(root, f"not validated: the schema cannot be applied ({type(exc).__name__}: {exc})")
    finally:
        _budget.reset(token)
    if error is None:
        return None
    return FieldError(_path(root, error.absolute_path), error.message)


def violation_within_bound(data: dict[str, Any], instance: Any, root: str) -> FieldError | None:
    """``first_violation`` with the largest allowance (``MAX_STEPS``), off the event loop: a check that does not
    finish within it is a violation too, naming the bound."""
    try:
        return first_violation(data, instance, root, max_steps=MAX_STEPS)
    except OutOfSteps as exc:
        return FieldError(root, f"not validated: {exc}")


def _validator_class(data: dict[str, Any]) -> type[Validator]:
    """The draft ``$schema`` names (registration refused any other), 2020-12 without one."""
    found = _validator_for(data, default=None)
    return found or jsonschema.Draft202012Validator


def _path(root: str, parts: Any) -> str:
    text = root
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


def _shape(value: Any) -> tuple[int, int]:
    """How deep ``value`` nests (to one past the bound) and how many objects it holds."""
    deepest, objects, stack = 0, 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            objects += isinstance(item, dict)
            if level <= MAX_SCHEMA_DEPTH:
                stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest, objects


def _reference_and_pattern_problems(value: Any, at: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from _reference_and_pattern_problems(item, f"{at}[{index}]")
        return
    if not isinstance(value, dict):
        return
    for key, item in value.items():
        where = f"{at}.{key}"
        if key in ("$ref", "$dynamicRef") and isinstance(item, str) and not item.startswith("#"):
            yield where, "may refer only within the schema ('#...'): Baton fetches no schema"
        elif key == "pattern" and isinstance(item, str):
            problem = _regex_problem(item)
            if problem:
                yield where, problem
        elif key == "patternProperties" and isinstance(item, dict):
            for pattern in item:
                problem = _regex_problem(pattern)
                if problem:
                    yield f"{where}.{pattern}", problem
        yield from _reference_and_pattern_problems(item, where)


def _dangling_references(data: dict[str, Any]) -> list[tuple[str, str]]:
    """``$ref``s to a JSON pointer or an anchor that the schema does not hold.

    Only for a schema with no ``$id`` below its root: under one, a reference is relative to that
    resource, which this simple reading does not follow (jsonschema resolves it when validating).
    """
    refs: list[tuple[str, str]] = []
    anchors: set[str] = set()
    nested_ids = False
    stack: list[tuple[Any, str, bool]] = [(data, "data", True)]
    while stack:
        value, at, root = stack.pop()
        if isinstance(value, list):
            stack.extend((item, f"{at}[{index}]", False) for index, item in enumerate(value))
        elif isinstance(value, dict):
            for key, item in value.items():
                if key == "$ref" and isinstance(item, str):
                    refs.append((f"{at}.$ref", item))
                elif key in ("$anchor", "$dynamicAnchor") and isinstance(item, str):
                    anchors.add(item)
                elif key == "$id" and isinstance(item, str):
                    if item.startswith("#"):
                        anchors.add(item[1:])  # draft 7's plain-name fragment
                    elif not root:
                        nested_ids = True
                stack.append((item, f"{at}.{key}", False))
    if nested_ids:
        return []
    problems: list[tuple[str, str]] = []
    for where, ref in refs:
        fragment = ref[1:]
        found = _pointer_resolves(data, fragment) if fragment.startswith("/") or not fragment else fragment in anchors
        if not found:
            problems.append((where, f"'{ref}' names nothing in the schema"))
    return problems


def _pointer_resolves(data: Any, pointer: str) -> bool:
    node = data
    for raw in pointer.split("/")[1:]:
        part = unquote(raw).replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isascii() and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _regex_problem(pattern: str) -> str | None:
    try:
        regex.compile(pattern)
    except regex.error as exc:
        return f"is not a regular expression: {exc}"
    return None


# -- the bounded validator ---------------------------------------------------------

_Keyword = Callable[[Validator, Any, Any, dict[str, Any]], Iterator[SchemaViolation] | None]
_bounded_classes: dict[type[Validator], type[Validator]] = {}
_extend: Callable[..., type[Validator]] = jsonschema.validators.extend  # its stub leaves it untyped


def _bounded(cls: type[Validator]) -> type[Validator]:
    """``cls`` whose every keyword counts against the budget, with linear ``uniqueItems`` and bounded regexes."""
    found = _bounded_classes.get(cls)
    if found is None:
        keywords: dict[str, _Keyword] = {name: _counted(fn) for name, fn in cls.VALIDATORS.items()}
        if "pattern" in keywords:
            keywords["pattern"] = _counted(_pattern)
        if "patternProperties" in keywords:
            keywords["patternProperties"] = _counted(_pattern_properties)
        if "uniqueItems" in keywords:
            keywords["uniqueItems"] = _counted(_unique_items)
        found = _bounded_classes[cls] = _extend(cls, validators=keywords)
    return found


def _counted(keyword: _Keyword) -> _Keyword:
    def apply(validator: Validator, value: Any, instance: Any, schema: dict[str, Any]) -> Iterator[SchemaViolation]:
        budget = _budget.get()
        budget.steps -= 1
        if budget.steps < 0:
            raise OutOfSteps(budget.allowed)
        return keyword(validator, value, instance, schema) or iter(())

    return apply


def _search(pattern: str, text: str) -> bool:
    budget = _budget.get()
    now = monotonic()
    if budget.regex_deadline is None:
        budget.regex_deadline = now + REGEX_BUDGET_MS / 1000
    left = budget.regex_deadline - now
    try:
        if left <= 0:
            raise TimeoutError
        return regex.search(pattern, text, timeout=left) is not None
    except TimeoutError:
        raise _OutOfTime from None


def _pattern(validator: Validator, pattern: Any, instance: Any, schema: dict[str, Any]) -> Iterator[SchemaViolation]:
    if validator.is_type(instance, "string") and not _search(pattern, instance):
        yield SchemaViolation(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[SchemaViolation]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            if _search(pattern, key):
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _unique_items(
    validator: Validator, unique: Any, instance: Any, schema: dict[str, Any]
) -> Iterator[SchemaViolation]:
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[Any] = set()
    for item in instance:
        key = _hashable(item)
        if key in seen:
            yield SchemaViolation(f"{instance!r} has non-unique elements")
            return
        seen.add(key)


def _hashable(value: Any) -> Any:
    """A key equal for values JSON Schema calls equal (``1`` and ``1.0``; not ``true`` and ``1``)."""
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, dict):
        return ("object", frozenset((key, _hashable(item)) for key, item in value.items()))
    if isinstance(value, list):
        return ("array", tuple(_hashable(item) for item in value))
    return value
