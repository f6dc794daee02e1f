"""The JSON editor that registers a definition: a new one, or a new version of one (its latest version's JSON
with the next version number), through ``definitions.register_workflow``, the call Conductor's
``POST /api/metadata/workflow`` makes, so the page refuses what the API refuses.

What the text is not (JSON, with the line and column of the fault; a definition, with the path of each field at
fault, such as ``tasks[2].taskReferenceName``, and where the text writes it: ``json_places.py``) comes back as the
editor again (400) with each problem listed beside it and the text as typed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import msgspec
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from baton.api.dashboard.forms import check_csrf, read_form
from baton.api.dashboard.json_places import place_of
from baton.api.dashboard.session import COOKIE_PATH
from baton.api.dashboard.templating import page
from baton.api.params import decode_json
from baton.api.state import service
from baton.errors import ConflictError, FieldError, ValidationError, workflow_def_exists_message
from baton.model import WorkflowDef
from baton.model.access import Permission
from baton.model.codec import to_builtins

TEXT_FIELD = "definition"
"""The editor's field, and the path of a problem with the text as a whole."""
SERVER_SET_FIELDS = ("createTime", "updateTime")
"""What registering sets on every version: left out of the editor's copy of a version and of the diff."""
ALWAYS_SHOWN = frozenset({"name", "version", "tasks", "taskReferenceName", "type"})
"""Fields a definition's JSON shows even at their defaults: what a reader looks for first."""
STARTER: dict[str, Any] = {
    "name": "my_workflow",
    "version": 1,
    "description": "What it does",
    "tasks": [{"name": "first_step", "taskReferenceName": "first_step", "type": "SIMPLE"}],
}
"""The editor's text for a new definition."""


def definition_link(name: str, version: int) -> str:
    return f"{COOKIE_PATH}/definitions/{quote(name, safe='')}/{version}"


def definition_json(value: msgspec.Struct, *, without: tuple[str, ...] = ()) -> str:
    """A definition (or one of its steps) as the API writes it, pretty-printed in the model's order of fields,
    less the fields left at their defaults (but ``ALWAYS_SHOWN``) and less ``without``: what registering it
    again gives the same definition."""
    shown = _compact(value)
    return json.dumps({key: item for key, item in shown.items() if key not in without}, indent=2, ensure_ascii=False)


def _compact(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        shown: dict[str, Any] = {}
        for field in msgspec.structs.fields(value):
            item = getattr(value, field.name)
            if field.encode_name not in ALWAYS_SHOWN and _is_default(field, item):
                continue
            shown[field.encode_name] = _compact(item)
        return shown
    if isinstance(value, list):
        return [_compact(item) for item in value]
    if isinstance(value, dict):
        return {key: _compact(item) for key, item in value.items()}
    return to_builtins(value)


def _is_default(field: msgspec.structs.FieldInfo, value: Any) -> bool:
    if field.default is not msgspec.NODEFAULT:
        return bool(value == field.default)
    if field.default_factory is not msgspec.NODEFAULT:
        return bool(value == field.default_factory())
    return False


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the text: the path of the field (``definition`` for the text as a whole), and for
    text that is not JSON, where it stops being JSON (1-based)."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None


def _editor(
    request: Request, text: str, *, based_on: WorkflowDef | None, problems: list[Problem], overwrite: bool
) -> Response:
    return page(
        request,
        "definition_editor.html",
        status_code=400 if problems else 200,
        text=text,
        text_field=TEXT_FIELD,
        based_on=based_on,
        problems=problems,
        overwrite=overwrite,
    )


async def editor_page(request: Request) -> Response:
    """A new definition, or with ``?from=<name>`` a new version of that one."""
    name = request.query_params.get("from", "").strip()
    if not name:
        return _editor(request, json.dumps(STARTER, indent=2), based_on=None, problems=[], overwrite=False)
    latest = await service(request).definitions.get_workflow(name)
    text = definition_json(latest, without=SERVER_SET_FIELDS)
    value = json.loads(text)
    value["version"] = latest.version + 1
    text = json.dumps(value, indent=2, ensure_ascii=False)
    return _editor(request, text, based_on=latest, problems=[], overwrite=False)


def _placed(text: str, path: str, message: str) -> Problem:
    """A problem with a field, placed where the text writes that field (or what holds it)."""
    place = place_of(text, path) if path != TEXT_FIELD else None
    return Problem(path, message, *place) if place else Problem(path, message)


def _parsed(request: Request, text: str) -> WorkflowDef | Problem:
    """The definition the text holds, or the first thing that keeps it from being one."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        return Problem(TEXT_FIELD, f"is not JSON at {where}: {exc.msg}", exc.lineno, exc.colno)
    except RecursionError:
        return Problem(TEXT_FIELD, "is nested too deeply")
    try:
        return decode_json(request, text, WorkflowDef, what=TEXT_FIELD)
    except ValidationError as exc:
        first = exc.errors[0] if exc.errors else FieldError(TEXT_FIELD, exc.message)
        return _placed(text, first.path, first.message)


async def register(request: Request) -> Response:
    await check_csrf(request)
    form = await read_form(request)
    text = form.get(TEXT_FIELD, "")
    overwrite = form.get("overwrite") == "on"
    parsed = _parsed(request, text)
    if isinstance(parsed, Problem):
        return _editor(request, text, based_on=None, problems=[parsed], overwrite=overwrite)
    try:
        await service(request).definitions.register_workflow(parsed, overwrite=overwrite)
    except ValidationError as exc:
        problems = [_placed(text, error.path, error.message) for error in exc.errors] or [
            Problem(TEXT_FIELD, exc.message)
        ]
        return _editor(request, text, based_on=None, problems=problems, overwrite=overwrite)
    except ConflictError as exc:
        exists = exc.message == workflow_def_exists_message(parsed.name, parsed.version)
        problem = _placed(text, "version", exc.message) if exists else Problem(TEXT_FIELD, exc.message)
        return _editor(request, text, based_on=None, problems=[problem], overwrite=overwrite)
    return RedirectResponse(f"{definition_link(parsed.name, parsed.version)}?registered=1", status_code=303)


RULES: dict[str, Permission] = {
    "GET /definitions/new": Permission.DEFINE,
    "POST /definitions/new": Permission.DEFINE,
}

routes = [
    Route("/definitions/new", editor_page, methods=["GET"]),
    Route("/definitions/new", register, methods=["POST"]),
]
