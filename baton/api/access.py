"""Who may call each route of a surface: the credentials a request carries, checked against the route's rule.

Each surface declares its rules (``<surface>/access.py``): ``"METHOD /path"`` (the path as its
route names it, relative to the surface's mount) to the ``Permission`` it asks for, and how it
answers a refusal (401, 403) in its own shape. ``guard`` wraps each route's app; a route without
a rule is an error when the app is built, so no route is ever open by omission.

Credentials: ``X-Authorization: <token>`` (Conductor's clients), ``Authorization: Bearer <token>``,
or an access key itself as ``<keyId>:<keySecret>`` after ``Bearer`` or ``ApiKey`` (or in
``X-Authorization``). A PUBLIC route needs none, but acts as the key's principal when a good one is
given (an HTTP trigger with ``authorize: true`` asks for it). With auth off every request acts as
``UNAUTHENTICATED_ADMIN`` and every answer says ``X-Baton-Auth: off``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from baton.errors import AuthenticationError, BatonError, PermissionDeniedError
from baton.model.access import UNAUTHENTICATED_ADMIN, Permission, Principal
from baton.service.access_tokens import INVALID_TOKEN, MISSING_CREDENTIALS
from baton.service.acting import acting_as

if TYPE_CHECKING:
    from baton.service import Baton

Refusal = Callable[[Scope, BatonError], Response]
"""A surface's answer to an ``AuthenticationError`` (401) or a ``PermissionDeniedError`` (403)."""


@dataclass(frozen=True, slots=True)
class SurfaceAccess:
    rules: Mapping[str, Permission]
    """``"METHOD /path"`` -> the permission that route asks for."""
    refusal: Refusal


def rule_key(method: str, path: str) -> str:
    return f"{method} {path}"


def route_methods(route: Route) -> list[str]:
    """The methods a route's rules are written for (HEAD is GET's)."""
    return sorted((route.methods or set()) - {"HEAD"})


def guard(routes: Sequence[BaseRoute], access: SurfaceAccess, *, auth: bool) -> list[BaseRoute]:
    """Copies of ``routes``, each checking its rule before it runs; LookupError naming every route with no rule."""
    guarded: list[BaseRoute] = []
    missing: list[str] = []
    for route in routes:
        if not isinstance(route, Route):
            raise TypeError(f"only plain routes can be guarded, not {route!r}")
        permissions = {method: access.rules.get(rule_key(method, route.path)) for method in route_methods(route)}
        missing += [rule_key(method, route.path) for method, permission in permissions.items() if permission is None]
        checked = copy.copy(route)
        checked.app = Guard(route.app, {m: p for m, p in permissions.items() if p is not None}, access.refusal, auth)
        guarded.append(checked)
    if missing:
        raise LookupError(f"no access rule for {', '.join(missing)}")
    return guarded


@dataclass(frozen=True, slots=True)
class Credential:
    is_key: bool
    value: str


def read_credential(scope: Scope) -> Credential | None:
    """The credential a request carries (``X-Authorization`` first), None when it carries none.

    An ``Authorization`` of another scheme (Basic, ...) is returned as an empty token: not accepted.
    """
    authorization: str | None = None
    for name, raw in scope["headers"]:
        if name == b"x-authorization":
            value = raw.decode("latin-1").strip().removeprefix("Bearer ").strip()
            return Credential(":" in value, value)
        if name == b"authorization":
            authorization = raw.decode("latin-1").strip()
    if authorization is None:
        return None
    scheme, _, value = authorization.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return Credential(":" in value, value)
    if scheme.lower() == "apikey":
        return Credential(True, value)
    return Credential(False, "")


async def authenticate(baton: Baton, credential: Credential) -> Principal:
    authenticator = baton.access.authenticator
    if credential.is_key:
        key_id, colon, secret = credential.value.partition(":")
        if not colon or not key_id or not secret:
            raise AuthenticationError(INVALID_TOKEN, "An access key is given as <keyId>:<keySecret>")
        return await authenticator.by_key(key_id, secret)
    if not credential.value:
        raise AuthenticationError(INVALID_TOKEN, "Invalid token")
    return await authenticator.by_token(credential.value)


class Guard:
    """A route's app behind its rule: authenticate, check the permission, act as the principal."""

    def __init__(self, app: ASGIApp, permissions: dict[str, Permission], refusal: Refusal, auth: bool) -> None:
        self._app = app
        self.permissions = permissions
        """Method -> the permission a request of it asks for."""
        self._refusal = refusal
        self._auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._auth:
            with acting_as(UNAUTHENTICATED_ADMIN):
                await self._app(scope, receive, send)
            return
        method = "GET" if scope["method"] == "HEAD" else scope["method"]
        permission = self.permissions.get(method, Permission.MANAGE)
        credential = read_credential(scope)
        principal: Principal | None = None
        refused: BatonError | None = None
        if credential is not None:
            try:
                principal = await authenticate(scope["app"].state.baton, credential)
            except AuthenticationError as exc:
                refused = exc
        if permission is not Permission.PUBLIC:
            if principal is None and refused is None:
                refused = AuthenticationError(
                    MISSING_CREDENTIALS,
                    "Credentials are required: X-Authorization: <token>, or Authorization: Bearer <token> "
                    "or <keyId>:<keySecret>",
                )
            elif principal is not None and not principal.may(permission):
                role = principal.lacking_role(permission)
                held = ", ".join(sorted(principal.roles)) or "no role"
                refused = PermissionDeniedError(
                    f"{method} {scope['path']} needs the {role} role ({permission} permission);"
                    f" key {principal.key_id} has {held}"
                )
            if refused is not None:
                response = self._refusal(scope, refused)
                if isinstance(refused, AuthenticationError):
                    response.headers["www-authenticate"] = "Bearer"
                await response(scope, receive, send)
                return
        if principal is None:
            await self._app(scope, receive, send)
            return
        with acting_as(principal):
            await self._app(scope, receive, send)


class AuthOffHeader:
    """With auth off: every answer carries ``X-Baton-Auth: off``."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def send_marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-baton-auth", b"off")]
            await send(message)

        await self._app(scope, receive, send_marked)
