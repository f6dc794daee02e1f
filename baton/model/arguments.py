"""A definition's declared ``inputs`` and ``outputs`` (Elsa's), and the check of a run's input against ``inputs``.

An argument is ``{name, type, displayName, description, category, uiHint, isArray, required}``;
``type`` is one of Elsa's type aliases, read case-insensitively (``TYPES``). Registration refuses a
blank or repeated name and a type not listed; a start refuses an input that is ``required`` and
missing (or null), or present with a value of the wrong type, naming it: ``input.amount: expected a
Number (Double), got a String``. Inputs not declared are let through, as Elsa and Conductor do;
``outputs`` are described, not checked.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import msgspec

from baton.errors import FieldError

MAX_ARGUMENTS = 1000
"""Most inputs (and most outputs) a definition may declare."""


class ArgumentDef(msgspec.Struct, rename="camel", kw_only=True, omit_defaults=True):
    """One declared input or output of a workflow definition (Elsa's ``InputDefinition``/``OutputDefinition``)."""

    name: str
    type: str = "Object"
    display_name: str | None = None
    description: str | None = None
    category: str | None = None
    ui_hint: str | None = None
    storage_driver_type: str | None = None
    is_array: bool = False
    required: bool = False


@dataclass(frozen=True)
class ValueType:
    """How one type alias checks a value: ``accepts`` it, and what the error calls the type."""

    label: str
    accepts: Callable[[Any], bool]


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _whole_between(low: int, high: int) -> Callable[[Any], bool]:
    def accepts(value: Any) -> bool:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    return accepts


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_boolean(value: Any) -> bool:
    return isinstance(value, bool)


def _is_anything(value: Any) -> bool:
    return True


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _is_list(value: Any) -> bool:
    return isinstance(value, list)


def _is_date_time(value: Any) -> bool:
    if not isinstance(value, str) or len(value) < 10:
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


_TEXT = ValueType("a String", _is_text)
_NUMBER = ValueType("a Number", _is_number)
_ANY = ValueType("any value", _is_anything)
_OBJECT = ValueType("an Object (a JSON object)", _is_object)
_DATE_TIME = ValueType("a DateTime (ISO-8601 text)", _is_date_time)

TYPES: Mapping[str, ValueType] = {
    "string": _TEXT,
    "char": _TEXT,
    "uri": _TEXT,
    "byte": ValueType("a whole Number from 0 to 255", _whole_between(0, 255)),
    "int16": ValueType("a whole Number (Int16)", _whole_between(-(2**15), 2**15 - 1)),
    "int32": ValueType("a whole Number (Int32)", _whole_between(-(2**31), 2**31 - 1)),
    "int64": ValueType("a whole Number (Int64)", _whole_between(-(2**63), 2**63 - 1)),
    "single": _NUMBER,
    "double": _NUMBER,
    "decimal": _NUMBER,
    "number": _NUMBER,
    "boolean": ValueType("a Boolean", _is_boolean),
    "object": _ANY,
    "jsonelement": _ANY,
    "jsonnode": _ANY,
    "expandoobject": _OBJECT,
    "jsonobject": _OBJECT,
    "objectdictionary": _OBJECT,
    "objectmap": _OBJECT,
    "stringdictionary": _OBJECT,
    "stringmap": _OBJECT,
    "array": ValueType("an Array", _is_list),
    "jsonarray": ValueType("an Array", _is_list),
    "datetime": _DATE_TIME,
    "datetimeoffset": _DATE_TIME,
    "dateonly": ValueType("a DateOnly (ISO-8601 date)", _is_date),
    "guid": ValueType("a Guid (UUID text)", _is_uuid),
}
"""Elsa's type aliases, lower-cased, and how each checks a value (a whole number's range included)."""

KNOWN_TYPES = (
    "Array, Boolean, Byte, Char, DateOnly, DateTime, DateTimeOffset, Decimal, Double, ExpandoObject, Guid, "
    "Int16, Int32, Int64, JsonArray, JsonElement, JsonNode, JsonObject, Number, Object, ObjectDictionary, "
    "ObjectMap, Single, String, StringDictionary, StringMap, Uri"
)


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a Boolean"
    if isinstance(value, int | float):
        return f"the Number {value}" if len(repr(value)) <= 24 else "a Number out of range"
    if isinstance(value, str):
        return "a String"
    if isinstance(value, list):
        return "an Array"
    return "an Object"


def argument_errors(arguments: list[ArgumentDef], field: str) -> Iterator[FieldError]:
    """What registration refuses in ``inputs`` (or ``outputs``): blank or repeated names, unknown types."""
    if len(arguments) > MAX_ARGUMENTS:
        yield FieldError(field, f"may declare at most {MAX_ARGUMENTS} arguments")
        return
    seen: dict[str, int] = {}
    for index, argument in enumerate(arguments):
        at = f"{field}[{index}]"
        name = argument.name
        if not name.strip() or len(name) > 255:
            yield FieldError(f"{at}.name", "must be 1 to 255 characters, not blank")
        elif name in seen:
            yield FieldError(f"{at}.name", f"'{name}' is already declared at {field}[{seen[name]}]")
        else:
            seen[name] = index
        if argument.type.lower() not in TYPES:
            yield FieldError(f"{at}.type", f"'{argument.type[:60]}' is not a type Baton knows (one of {KNOWN_TYPES})")


def input_size(inputs: list[ArgumentDef], value: Mapping[str, Any]) -> int:
    """How many values checking ``value`` against ``inputs`` looks at (an array's items each count)."""
    size = 0
    for argument in inputs:
        given = value.get(argument.name)
        size += len(given) + 1 if argument.is_array and isinstance(given, list) else 1
    return size


def input_errors(inputs: list[ArgumentDef], value: Mapping[str, Any], path: str = "input") -> list[FieldError]:
    """Each declared input ``value`` breaks: required and missing (or null), or not of its type."""
    errors: list[FieldError] = []
    for argument in inputs:
        at = f"{path}.{argument.name}"
        given = value.get(argument.name)
        if given is None:
            if argument.required:
                errors.append(FieldError(at, f"is required ({_declared(argument)})"))
            continue
        kind = TYPES.get(argument.type.lower(), _ANY)
        if argument.is_array:
            if not isinstance(given, list):
                errors.append(FieldError(at, f"expected an Array of {argument.type}, got {_kind_of(given)}"))
                continue
            for index, item in enumerate(given):
                if not kind.accepts(item):
                    errors.append(FieldError(f"{at}[{index}]", _wrong(kind, argument, item)))
                    break
        elif not kind.accepts(given):
            errors.append(FieldError(at, _wrong(kind, argument, given)))
    return errors


def _declared(argument: ArgumentDef) -> str:
    return f"{argument.type}[]" if argument.is_array else argument.type


def _wrong(kind: ValueType, argument: ArgumentDef, given: Any) -> str:
    label = kind.label
    if argument.type.lower() not in label.lower():
        label = f"{label} ({argument.type})"
    return f"expected {label}, got {_kind_of(given)}"
