"""Starting a run from a form: one field a declared input (``inputs``, ``model/arguments.py``), or the whole
input as JSON when the definition declares none; then the run's page.

A field is read by its declared type: text as text, numbers and booleans as such, arrays, objects and any other
type as JSON. What the form cannot read, and what the start refuses (a required input missing, a value of the
wrong type), comes back as the form again with each message at its field (400), what was typed kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from baton.api.dashboard.forms import check_csrf, read_form
from baton.api.dashboard.session import COOKIE_PATH
from baton.api.dashboard.templating import page
from baton.api.params import optional_int_param, parse_int
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.model import StartWorkflowRequest, WorkflowDef
from baton.model.access import Permission
from baton.model.arguments import ArgumentDef

_TEXT_TYPES = frozenset({"string", "char", "uri", "guid", "datetime", "datetimeoffset", "dateonly"})
_WHOLE_TYPES = frozenset({"byte", "int16", "int32", "int64"})
_NUMBER_TYPES = frozenset({"single", "double", "decimal", "number"})
WHOLE_INPUT = "input"
"""The field of the whole input, as JSON, for a definition that declares no inputs."""


@dataclass(frozen=True, slots=True)
class Field:
    """One input of the form: how it is drawn (``kind``: text, whole, number, boolean, json)."""

    name: str
    label: str
    kind: str
    required: bool
    description: str


def input_field(argument: ArgumentDef) -> Field:
    """How a declared input is drawn in a form (also "Add case manually", ``cases_add.py``)."""
    declared = argument.type.lower()
    kind = "json"
    if not argument.is_array:
        if declared in _TEXT_TYPES:
            kind = "text"
        elif declared in _WHOLE_TYPES:
            kind = "whole"
        elif declared in _NUMBER_TYPES:
            kind = "number"
        elif declared == "boolean":
            kind = "boolean"
    label = argument.display_name or argument.name
    typed = f"{argument.type}[]" if argument.is_array else argument.type
    return Field(argument.name, label, kind, argument.required, argument.description or typed)


def input_value(field: Field, raw: str, errors: list[FieldError]) -> Any:
    """The value typed in a field, None when left empty (the start says whether it is required)."""
    at = f"input.{field.name}"
    if field.kind == "boolean":
        return {"true": True, "false": False}.get(raw)
    if raw.strip() == "":
        return None
    if field.kind == "text":
        return raw
    if field.kind == "whole":
        try:
            return parse_int(raw, at)
        except ValidationError as exc:
            errors.extend(exc.errors)
            return None
    if field.kind == "number":
        try:
            return float(raw) if any(mark in raw for mark in ".eE") else int(raw)
        except ValueError:
            errors.append(FieldError(at, f"must be a number, got '{raw[:40]}'"))
            return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        errors.append(FieldError(at, f"is not JSON: {exc}"))
        return None


async def _definition(request: Request) -> WorkflowDef:
    version = optional_int_param(request, "version", minimum=1)
    return await service(request).definitions.get_workflow(request.path_params["name"], version)


def _form(request: Request, definition: WorkflowDef, typed: dict[str, str], errors: list[FieldError]) -> Response:
    messages: dict[str, list[str]] = {}
    for error in errors:
        messages.setdefault(error.path, []).append(error.message)
    return page(
        request,
        "start.html",
        status_code=400 if errors else 200,
        definition=definition,
        fields=[input_field(argument) for argument in definition.inputs],
        whole_input=WHOLE_INPUT,
        typed=typed,
        messages=messages,
    )


async def start_form(request: Request) -> Response:
    return _form(request, await _definition(request), {}, [])


async def start_run(request: Request) -> Response:
    await check_csrf(request)
    definition = await _definition(request)
    typed = await read_form(request)
    errors: list[FieldError] = []
    given: dict[str, Any] = {}
    if definition.inputs:
        for field in map(input_field, definition.inputs):
            value = input_value(field, typed.get(field.name, ""), errors)
            if value is not None:
                given[field.name] = value
    else:
        raw = typed.get(WHOLE_INPUT, "").strip() or "{}"
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            errors.append(FieldError(WHOLE_INPUT, f"is not JSON: {exc}"))
        else:
            if isinstance(parsed, dict):
                given = parsed
            else:
                errors.append(FieldError(WHOLE_INPUT, "must be a JSON object"))
    if errors:
        return _form(request, definition, typed, errors)
    start = StartWorkflowRequest(
        name=definition.name,
        version=definition.version,
        input=given,
        correlation_id=typed.get("correlationId", "").strip() or None,
    )
    try:
        result = await service(request).runs.start(start)
    except ValidationError as exc:
        return _form(request, definition, typed, exc.errors)
    return RedirectResponse(f"{COOKIE_PATH}/runs/{result.workflow_id}", status_code=303)


async def start_choice(request: Request) -> Response:
    """The definitions a run can be started of: each name once, with its latest version."""
    latest: dict[str, WorkflowDef] = {}
    for definition in await service(request).definitions.list_workflows():
        known = latest.get(definition.name)
        if known is None or definition.version > known.version:
            latest[definition.name] = definition
    return page(request, "start_choice.html", definitions=[latest[name] for name in sorted(latest)])


RULES: dict[str, Permission] = {
    "GET /start": Permission.START,
    "GET /start/{name}": Permission.START,
    "POST /start/{name}": Permission.START,
}

routes = [
    Route("/start", start_choice, methods=["GET"]),
    Route("/start/{name}", start_form, methods=["GET"]),
    Route("/start/{name}", start_run, methods=["POST"]),
]
