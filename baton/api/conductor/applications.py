"""``POST /api/token`` and ``/api/applications``: tokens from access keys, and applications with their roles and
keys in Orkes Conductor's shape, so its clients' authorization client works unchanged.

An application is ``{id, name, createdBy, createTime, updateTime, updatedBy, roles}`` (Baton adds ``taskTypes``
and ``queues``, the limits of its WORKER and REVIEWER roles); a key ``{id, status, createdAt}``, and once, when
made, ``{id, secret}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.params import json_body
from baton.api.responses import JSONResponse
from baton.api.routing import NarrowedRoute
from baton.api.state import service
from baton.errors import FieldError, NotFoundError, ValidationError
from baton.model.access import AccessKey, Application, Role
from baton.service.access import parse_roles
from baton.service.acting import current_actor


async def token(request: Request) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ValidationError(errors=[FieldError("body", "must be {keyId, keySecret}")])
    key_id, key_secret = body.get("keyId"), body.get("keySecret")
    missing = [name for name in ("keyId", "keySecret") if not isinstance(body.get(name), str) or not body.get(name)]
    if missing or not isinstance(key_id, str) or not isinstance(key_secret, str):
        raise ValidationError(errors=[FieldError(name, "is required") for name in missing])
    issued = await service(request).access.authenticator.issue_token(key_id, key_secret)
    return JSONResponse({"token": issued})


def application_json(application: Application) -> dict[str, Any]:
    return {
        "id": application.id,
        "name": application.name,
        "createdBy": "",
        "createTime": application.created,
        "updateTime": application.created,
        "updatedBy": "",
        "roles": sorted(application.roles),
        "taskTypes": None if application.task_types is None else sorted(application.task_types),
        "queues": None if application.queues is None else sorted(application.queues),
    }


def key_json(key: AccessKey) -> dict[str, Any]:
    return {"id": key.id, "status": key.status.value, "createdAt": key.created}


def _name_set(body: dict[str, Any], field: str) -> frozenset[str] | None:
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise ValidationError(errors=[FieldError(field, "must be a list of names, or null for all")])
    return frozenset(value)


@dataclass(frozen=True, slots=True)
class _ApplicationFields:
    name: str
    roles: frozenset[Role]
    task_types: frozenset[str] | None
    queues: frozenset[str] | None
    given: frozenset[str]
    """The fields the body named (an update keeps the others as they are)."""


async def _application_body(request: Request) -> _ApplicationFields:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ValidationError(errors=[FieldError("body", "must be an object {name, roles?, taskTypes?, queues?}")])
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(errors=[FieldError("name", "is required")])
    roles = body.get("roles", [])
    if not isinstance(roles, list):
        raise ValidationError(errors=[FieldError("roles", "must be a list of role names")])
    return _ApplicationFields(
        name=name,
        roles=parse_roles(roles),
        task_types=_name_set(body, "taskTypes"),
        queues=_name_set(body, "queues"),
        given=frozenset(body),
    )


async def create_application(request: Request) -> Response:
    fields = await _application_body(request)
    application = await service(request).access.create_application(
        fields.name, fields.roles, task_types=fields.task_types, queues=fields.queues
    )
    return JSONResponse(application_json(application))


async def list_applications(request: Request) -> Response:
    return JSONResponse([application_json(a) for a in await service(request).access.list_applications()])


async def get_application(request: Request) -> Response:
    application = await service(request).access.get_application(request.path_params["id"])
    return JSONResponse(application_json(application))


async def update_application(request: Request) -> Response:
    """Renames it; roles, task types and queues are changed too when the body names them."""
    access = service(request).access
    current = await access.get_application(request.path_params["id"])
    fields = await _application_body(request)
    changed = Application(
        id=current.id,
        name=fields.name,
        roles=fields.roles if "roles" in fields.given else current.roles,
        created=current.created,
        task_types=fields.task_types if "taskTypes" in fields.given else current.task_types,
        queues=fields.queues if "queues" in fields.given else current.queues,
    )
    return JSONResponse(application_json(await access.change_application(changed)))


async def delete_application(request: Request) -> Response:
    await service(request).access.delete_application(request.path_params["id"])
    return Response(status_code=200)


def _role(request: Request) -> Role:
    name = request.path_params["role"]
    if name not in Role.__members__:
        raise ValidationError(errors=[FieldError("role", f"{name!r} is not a role ({', '.join(Role)})")])
    return Role(name)


async def add_role(request: Request) -> Response:
    application = await service(request).access.grant_role(request.path_params["applicationId"], _role(request))
    return JSONResponse(application_json(application))


async def remove_role(request: Request) -> Response:
    application = await service(request).access.remove_role(request.path_params["applicationId"], _role(request))
    return JSONResponse(application_json(application))


async def create_key(request: Request) -> Response:
    access = service(request).access
    await access.get_application(request.path_params["id"])
    made = await access.create_key(request.path_params["id"])
    return JSONResponse({"id": made.key.id, "secret": made.secret})


async def list_keys(request: Request) -> Response:
    keys = await service(request).access.list_keys(request.path_params["id"])
    return JSONResponse([key_json(key) for key in keys])


async def _key_of(request: Request) -> AccessKey:
    key_id, application_id = request.path_params["keyId"], request.path_params["applicationId"]
    key = await service(request).access.get_key(key_id)
    if key.application_id != application_id:
        raise NotFoundError(f"Access key {key_id} not found in application {application_id}")
    return key


async def delete_key(request: Request) -> Response:
    key = await _key_of(request)
    await service(request).access.delete_key(key.id)
    return Response(status_code=200)


async def toggle_key(request: Request) -> Response:
    key = await _key_of(request)
    return JSONResponse(key_json(await service(request).access.toggle_key(key.id)))


async def application_of_key(request: Request) -> Response:
    access = service(request).access
    key = await access.get_key(request.path_params["keyId"])
    return JSONResponse(application_json(await access.get_application(key.application_id)))


async def me(request: Request) -> Response:
    """``GET /api/token/userInfo``: who the credentials stand for."""
    return JSONResponse({"id": current_actor(), "name": current_actor()})


routes = [
    Route("/token", token, methods=["POST"]),
    Route("/token/userInfo", me, methods=["GET"]),
    Route("/applications", list_applications, methods=["GET"]),
    Route("/applications", create_application, methods=["POST"]),
    Route("/applications/key/{keyId}", application_of_key, methods=["GET"]),
    Route("/applications/{id}", get_application, methods=["GET"]),
    Route("/applications/{id}", update_application, methods=["PUT"]),
    Route("/applications/{id}", delete_application, methods=["DELETE"]),
    Route("/applications/{applicationId}/roles/{role}", add_role, methods=["POST"]),
    Route("/applications/{applicationId}/roles/{role}", remove_role, methods=["DELETE"]),
    NarrowedRoute("/applications/{id}/accessKeys", list_keys, methods=["GET"], reserved={"id": ["key"]}),
    NarrowedRoute("/applications/{id}/accessKeys", create_key, methods=["POST"], reserved={"id": ["key"]}),
    Route("/applications/{applicationId}/accessKeys/{keyId}", delete_key, methods=["DELETE"]),
    Route("/applications/{applicationId}/accessKeys/{keyId}/status", toggle_key, methods=["POST"]),
]
