"""``POST /elsa/api/identity/login {username, password}``: Elsa's login, taking an access key's id and secret,
answered as Elsa's ``LoginResponse`` ``{isAuthenticated, accessToken, refreshToken}``; the token is sent back as
``Authorization: Bearer <token>``. Credentials not accepted: 401 in Elsa's error body."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from baton.api.params import json_body
from baton.api.responses import JSONResponse
from baton.api.state import service
from baton.errors import FieldError, ValidationError


async def login(request: Request) -> Response:
    body = await json_body(request)
    if not isinstance(body, dict):
        raise ValidationError(
            errors=[FieldError("body", "must be {username, password}: an access key's id and secret")]
        )
    username, password = body.get("username"), body.get("password")
    missing = [
        name
        for name, value in (("username", username), ("password", password))
        if not isinstance(value, str) or not value
    ]
    if missing or not isinstance(username, str) or not isinstance(password, str):
        raise ValidationError(errors=[FieldError(name, "is required") for name in missing])
    token = await service(request).access.authenticator.issue_token(username, password)
    return JSONResponse({"isAuthenticated": True, "accessToken": token, "refreshToken": None})


routes = [Route("/identity/login", login, methods=["POST"])]
