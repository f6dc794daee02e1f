"""The document's ``/api/secrets`` paths: secrets by name (store, list, ask whether one exists, remove)."""

from __future__ import annotations

from baton.api.openapi.spec import BOOLEAN, JSON, STRING, STRINGS, TEXT, Paths, answer, operation, path

TAG = "secret-resource"

_NAME = path("name", "The secret's name: letters, digits, '_' and '-'.")
_NAMES = answer("Every secret's name, in order.", STRINGS)
_VALUE = {
    "required": True,
    "description": "The value: a JSON string, or any other body's text as it is.",
    "content": {JSON: {"schema": STRING}, TEXT: {"schema": STRING}},
}
_NOT_CONFIGURED = " Answers 503 when the server has no BATON_SECRETS_KEY."

paths: Paths = {
    "/api/secrets": {
        "get": operation("listSecretNames", TAG, "Every secret's name", responses={200: _NAMES}),
        "post": operation(
            "listAllSecretNames",
            TAG,
            "Every secret's name (Orkes's listAllSecretNames)",
            responses={200: _NAMES},
        ),
    },
    "/api/secrets/{name}": {
        "put": operation(
            "putSecret",
            TAG,
            "Store a secret",
            parameters=[_NAME],
            body=_VALUE,
            responses={200: answer("Stored (encrypted).")},
            description="No route ever answers a value." + _NOT_CONFIGURED,
        ),
        "delete": operation(
            "deleteSecret", TAG, "Remove a secret", parameters=[_NAME], responses={200: answer("Removed.")}
        ),
    },
    "/api/secrets/{name}/exists": {
        "get": operation(
            "secretExists",
            TAG,
            "Whether a secret exists",
            parameters=[_NAME],
            responses={200: answer("true or false.", BOOLEAN)},
        ),
    },
}
