"""'Add case manually': a case of a queue's workflow started from a form through ``service.cases.create`` (as
Ballerine's ``POST /case-management``, with the same permission), then the new case's page.

The form is the definition's declared ``inputs``, each a field drawn and read as "Start a run" does
(``starting.input_field``); a definition that declares none takes the whole context as JSON. What the service
refuses (``context.riskLevel`` missing, ``context.entity.type`` wrong) comes back as the form, each message at
its field when it has one and above the form otherwise, what was typed kept (400).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from baton.api.dashboard.forms import check_csrf, read_form
from baton.api.dashboard.session import COOKIE_PATH
from baton.api.dashboard.starting import input_field, input_value
from baton.api.dashboard.templating import page
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.model import WorkflowDef
from baton.model.access import Permission

WHOLE_CONTEXT = "context"
"""The field of the whole context, as JSON, for a definition that declares no inputs."""
_CONTEXT_PREFIX = "context."


def _context_template(definition: WorkflowDef) -> str:
    entity_type = definition.case.entity_type if definition.case is not None else None
    data = {"firstName": "", "lastName": ""} if entity_type == "individual" else {"companyName": ""}
    return json.dumps({"entity": {"type": entity_type or "business", "data": data}, "documents": []}, indent=2)


def _messages(definition: WorkflowDef, errors: list[FieldError]) -> dict[str, list[str]]:
    """Each message at its field: the service's ``context.<input>`` at the input's field (``input.<input>``), the
    rest at the whole context's field, or above the form (key "")."""
    declared = {argument.name for argument in definition.inputs}
    messages: dict[str, list[str]] = {}
    for error in errors:
        at = error.path
        if at.startswith(_CONTEXT_PREFIX) and definition.inputs:
            head = at.removeprefix(_CONTEXT_PREFIX).split(".", 1)[0].split("[", 1)[0]
            at = f"input.{head}" if head in declared else ""
        elif at.startswith(_CONTEXT_PREFIX) or at == WHOLE_CONTEXT:
            at = WHOLE_CONTEXT
        elif not at.startswith("input."):
            at = ""
        text = error.message if at == error.path or not at else f"{error.path} {error.message}"
        messages.setdefault(at, []).append(text)
    return messages


def _form(request: Request, definition: WorkflowDef, typed: dict[str, str], errors: list[FieldError]) -> Response:
    return page(
        request,
        "case_add.html",
        status_code=400 if errors else 200,
        definition=definition,
        fields=[input_field(argument) for argument in definition.inputs],
        whole_context=WHOLE_CONTEXT,
        context_template=_context_template(definition),
        queue=request.query_params.get("queue", ""),
        typed=typed,
        messages=_messages(definition, errors),
    )


async def _definition(request: Request) -> WorkflowDef:
    return await service(request).definitions.get_workflow(request.path_params["name"], None)


def _context(definition: WorkflowDef, typed: dict[str, str], errors: list[FieldError]) -> dict[str, Any]:
    if definition.inputs:
        context: dict[str, Any] = {}
        for field in map(input_field, definition.inputs):
            value = input_value(field, typed.get(field.name, ""), errors)
            if value is not None:
                context[field.name] = value
        return context
    raw = typed.get(WHOLE_CONTEXT, "").strip() or "{}"
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        errors.append(FieldError(WHOLE_CONTEXT, f"is not JSON: {exc}"))
        return {}
    if not isinstance(parsed, dict):
        errors.append(FieldError(WHOLE_CONTEXT, "must be a JSON object"))
        return {}
    return parsed


async def add_form(request: Request) -> Response:
    return _form(request, await _definition(request), {}, [])


async def add_case(request: Request) -> Response:
    await check_csrf(request)
    definition = await _definition(request)
    typed = await read_form(request)
    errors: list[FieldError] = []
    context = _context(definition, typed, errors)
    if errors:
        return _form(request, definition, typed, errors)
    try:
        started = await service(request).cases.create(definition.name, context)
    except ValidationError as exc:
        return _form(request, definition, typed, exc.errors or [FieldError("", exc.message)])
    return RedirectResponse(f"{COOKIE_PATH}/cases/{started.workflow_id}?done=created", status_code=303)


RULES: dict[str, Permission] = {
    "GET /cases/add/{name}": Permission.START,
    "POST /cases/add/{name}": Permission.START,
}

routes = [
    Route("/cases/add/{name}", add_form, methods=["GET"]),
    Route("/cases/add/{name}", add_case, methods=["POST"]),
]
