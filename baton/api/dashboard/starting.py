"""Starting a run from a form: one field a declared input (``inputs``, ``model/arguments.py``), or the whole
input as JSON when the definition declares none, with the version, correlation id, priority and idempotency key
of Conductor's start request; then the run's page. The page also shows the curl of each way in (``ways_in.py``).

A field is read by its declared type: text as text, numbers and booleans as such, arrays, objects and any other
type as JSON. What the form cannot read, and what the start refuses (a required input missing, a value of the
wrong type), comes back as the form again with each message at its field (400), what was typed kept; so does an
idempotency key another run holds when the chosen strategy refuses it (409).
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
from baton.api.dashboard.ways_in import ways_in
from baton.api.params import optional_int_param, parse_int
from baton.api.state import service
from baton.errors import ConflictError, FieldError, ValidationError
from baton.model import StartWorkflowRequest, WorkflowDef
from baton.model.access import Permission
from baton.model.arguments import ArgumentDef
from baton.model.runs import IdempotencyStrategy

_TEXT_TYPES = frozenset({"string", "char", "uri", "guid", "datetime", "datetimeoffset", "dateonly"})
_WHOLE_TYPES = frozenset({"byte", "int16", "int32", "int64"})
_NUMBER_TYPES = frozenset({"single", "double", "decimal", "number"})
WHOLE_INPUT = "input"
"""The field of the whole input, as JSON, for a definition that declares no inputs."""
MAX_FORM_PRIORITY = 99
"""The highest priority the form offers (Conductor's range, 0-99)."""
STRATEGIES = [strategy.value for strategy in IdempotencyStrategy]
DEFAULT_STRATEGY = IdempotencyStrategy.RETURN_EXISTING.value
"""What a second start with the same key does, unless the person chooses otherwise: lands on the first run."""
_SAMPLES: dict[str, Any] = {"text": "", "whole": 0, "number": 0, "boolean": False, "json": None}


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


def _sample(field: Field) -> Any:
    return _SAMPLES[field.kind]


async def _definition(request: Request, typed: dict[str, str] | None = None) -> WorkflowDef:
    """The version the form chose (``version``), else the one the address names, else the latest."""
    chosen = (typed or {}).get("version", "").strip()
    version = parse_int(chosen, "version", minimum=1) if chosen else optional_int_param(request, "version", minimum=1)
    return await service(request).definitions.get_workflow(request.path_params["name"], version)


async def _form(
    request: Request, definition: WorkflowDef, typed: dict[str, str], errors: list[FieldError], status_code: int = 400
) -> Response:
    baton = service(request)
    messages: dict[str, list[str]] = {}
    for error in errors:
        messages.setdefault(error.path, []).append(error.message)
    fields = [input_field(argument) for argument in definition.inputs]
    versions = sorted({d.version for d in await baton.definitions.list_workflows(definition.name)}, reverse=True)
    server = f"{request.url.scheme}://{request.url.netloc}"
    sample = {field.name: _sample(field) for field in fields}
    return page(
        request,
        "start.html",
        status_code=status_code if errors else 200,
        definition=definition,
        versions=versions,
        fields=fields,
        whole_input=WHOLE_INPUT,
        typed=typed,
        messages=messages,
        max_priority=MAX_FORM_PRIORITY,
        default_strategy=DEFAULT_STRATEGY,
        ways_in=ways_in(definition, server, baton.context.settings.trigger_base_path, sample),
    )


async def start_form(request: Request) -> Response:
    return await _form(request, await _definition(request), {}, [])


def _options(typed: dict[str, str], errors: list[FieldError]) -> dict[str, Any]:
    """The start request's fields beside the input, as typed: priority, correlation id, idempotency key and
    strategy (the service checks their contents)."""
    raw_priority = typed.get("priority", "").strip()
    priority = 0
    if raw_priority:
        try:
            priority = parse_int(raw_priority, "priority", minimum=0, maximum=MAX_FORM_PRIORITY)
        except ValidationError as exc:
            errors.extend(exc.errors)
    key = typed.get("idempotencyKey", "").strip() or None
    strategy = typed.get("idempotencyStrategy", DEFAULT_STRATEGY)
    if strategy not in STRATEGIES:
        errors.append(FieldError("idempotencyStrategy", f"must be one of {', '.join(STRATEGIES)}"))
        strategy = DEFAULT_STRATEGY
    return {
        "priority": priority,
        "correlation_id": typed.get("correlationId", "").strip() or None,
        "idempotency_key": key,
        "idempotency_strategy": IdempotencyStrategy(strategy) if key else None,
    }


async def start_run(request: Request) -> Response:
    await check_csrf(request)
    typed = await read_form(request)
    definition = await _definition(request, typed)
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
    options = _options(typed, errors)
    if errors:
        return await _form(request, definition, typed, errors)
    start = StartWorkflowRequest(name=definition.name, version=definition.version, input=given, **options)
    try:
        result = await service(request).runs.start(start)
    except ValidationError as exc:
        return await _form(request, definition, typed, exc.errors)
    except ConflictError as exc:
        return await _form(request, definition, typed, [FieldError("idempotencyKey", exc.message)], 409)
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
