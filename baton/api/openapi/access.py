"""The document's access paths: ``POST /api/token`` and ``/api/applications`` (applications, roles, access keys),
and the security schemes every other operation asks for."""

from __future__ import annotations

from typing import Any

from baton.api.openapi.spec import INTEGER, STRING, Paths, answer, array, json_body, operation, path
from baton.model.access import KeyStatus, Role

TAG = "access"

_NAMES = {"anyOf": [array(STRING), {"type": "null"}]}
APPLICATION: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": STRING,
        "name": STRING,
        "createdBy": STRING,
        "createTime": INTEGER,
        "updateTime": INTEGER,
        "updatedBy": STRING,
        "roles": array({"type": "string", "enum": [role.value for role in Role]}),
        "taskTypes": _NAMES,
        "queues": _NAMES,
    },
    "required": ["id", "name", "roles"],
}
_APPLICATION_BODY = json_body(
    {
        "type": "object",
        "properties": {
            "name": STRING,
            "roles": array({"type": "string", "enum": [role.value for role in Role]}),
            "taskTypes": _NAMES,
            "queues": _NAMES,
        },
        "required": ["name"],
    },
    "The application: its name, roles, and the task types (WORKER) and queues (REVIEWER) it is limited to.",
)
KEY: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": STRING,
        "status": {"type": "string", "enum": [s.value for s in KeyStatus]},
        "createdAt": INTEGER,
    },
    "required": ["id", "status", "createdAt"],
}
_ID = path("id", "The application's id.")
_APP_ID = path("applicationId", "The application's id.")
_KEY_ID = path("keyId", "The access key's id.")
_ROLE = path("role", "A role.", {"type": "string", "enum": [role.value for role in Role]})
_ONE = answer("The application.", APPLICATION)
_DONE = answer("Done.")

SECURITY_SCHEMES: dict[str, Any] = {
    "token": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Authorization",
        "description": "A token from POST /api/token.",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A token from POST /api/token, or an access key itself as <keyId>:<keySecret>.",
    },
}
SECURITY: list[dict[str, list[str]]] = [{"token": []}, {"bearer": []}]

paths: Paths = {
    "/api/token": {
        "post": operation(
            "generateToken",
            TAG,
            "A token for an access key",
            body=json_body(
                {
                    "type": "object",
                    "properties": {"keyId": STRING, "keySecret": STRING},
                    "required": ["keyId", "keySecret"],
                },
                "The key's id and secret.",
            ),
            responses={200: answer("The token.", {"type": "object", "properties": {"token": STRING}})},
            errors=[401],
            public=True,
        ),
    },
    "/api/token/userInfo": {
        "get": operation(
            "getUserInfo",
            TAG,
            "Who the credentials stand for",
            responses={200: answer("The principal.", {"type": "object"})},
            public=True,
        ),
    },
    "/api/applications": {
        "get": operation(
            "listApplications",
            TAG,
            "Every application",
            responses={200: answer("The applications.", array(APPLICATION))},
        ),
        "post": operation(
            "createApplication", TAG, "Make an application", body=_APPLICATION_BODY, responses={200: _ONE}
        ),
    },
    "/api/applications/key/{keyId}": {
        "get": operation(
            "getAppByAccessKeyId", TAG, "The application of a key", parameters=[_KEY_ID], responses={200: _ONE}
        ),
    },
    "/api/applications/{id}": {
        "get": operation("getApplication", TAG, "An application", parameters=[_ID], responses={200: _ONE}),
        "put": operation(
            "updateApplication",
            TAG,
            "Rename an application (and change its roles and limits when given)",
            parameters=[_ID],
            body=_APPLICATION_BODY,
            responses={200: _ONE},
        ),
        "delete": operation(
            "deleteApplication", TAG, "Delete an application and its keys", parameters=[_ID], responses={200: _DONE}
        ),
    },
    "/api/applications/{applicationId}/roles/{role}": {
        "post": operation(
            "addRoleToApplicationUser", TAG, "Grant a role", parameters=[_APP_ID, _ROLE], responses={200: _ONE}
        ),
        "delete": operation(
            "removeRoleFromApplicationUser", TAG, "Take a role away", parameters=[_APP_ID, _ROLE], responses={200: _ONE}
        ),
    },
    "/api/applications/{id}/accessKeys": {
        "get": operation(
            "getAccessKeys",
            TAG,
            "An application's keys",
            parameters=[_ID],
            responses={200: answer("The keys.", array(KEY))},
        ),
        "post": operation(
            "createAccessKey",
            TAG,
            "Make a key (its secret is in this answer only)",
            parameters=[_ID],
            responses={200: answer("The key.", {"type": "object", "properties": {"id": STRING, "secret": STRING}})},
        ),
    },
    "/api/applications/{applicationId}/accessKeys/{keyId}": {
        "delete": operation(
            "deleteAccessKey", TAG, "Delete a key", parameters=[_APP_ID, _KEY_ID], responses={200: _DONE}
        ),
    },
    "/api/applications/{applicationId}/accessKeys/{keyId}/status": {
        "post": operation(
            "toggleAccessKeyStatus",
            TAG,
            "Turn a key off (revoking its tokens) or on again",
            parameters=[_APP_ID, _KEY_ID],
            responses={200: answer("The key.", KEY)},
        ),
    },
}
