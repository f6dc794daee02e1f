"""Secrets: stored encrypted, listed by name, and given only to the one that runs a task naming them.

Values are sealed with AES-256-GCM under ``BATON_SECRETS_KEY`` (a fresh 12-byte nonce each time, the secret's
name as associated data, so a sealed value moved to another name does not open) before they reach the store;
no read gives one back. ``reveal`` fills a handed-out task's input in (``Task.secret_inputs``): a worker's poll
and the server's HTTP and EVENT executors call it, and what they report is masked with ``Revealed.mask``
where Baton made the call. A server without the key answers the secrets routes with ``NotConfiguredError``
(503), and fails a task that names a secret.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from baton.config import parse_secrets_key
from baton.errors import FieldError, NotConfiguredError, NotFoundError, ValidationError
from baton.model import Task
from baton.model.audit import AuditAction, TargetKind
from baton.model.secrets import MASK, SecretInput, secret_name_problem
from baton.service.context import ServiceContext

_NONCE_BYTES: Final = 12
_NOT_CONFIGURED: Final = (
    "Secrets are not configured on this server: start it with BATON_SECRETS_KEY set to base64 of 32 bytes"
    " (openssl rand -base64 32)"
)


class SecretUnavailable(Exception):
    """A task names a secret it cannot be given. ``reason`` names the secret, never a value; ``terminal``: no
    retry can help until the server is reconfigured."""

    def __init__(self, reason: str, *, terminal: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.terminal = terminal


@dataclass(frozen=True)
class Revealed:
    """A task as handed out, its input holding the secrets' values, and those values."""

    task: Task
    values: tuple[str, ...] = ()

    def mask(self, value: Any) -> Any:
        """``value`` with every secret value given to the task replaced by ``***`` (in strings and keys)."""
        return _masked(value, self.values) if self.values else value


class SecretService:
    def __init__(self, ctx: ServiceContext) -> None:
        self._ctx = ctx
        key = ctx.settings.secrets_key
        self._cipher = AESGCM(parse_secrets_key(key)) if key else None

    async def put(self, name: str, value: str) -> None:
        """Create or replace a secret."""
        cipher = self._require_cipher()
        _check_name(name)
        if not value:
            raise ValidationError(errors=[FieldError("body", "must be the secret's value, a non-empty string")])
        nonce = os.urandom(_NONCE_BYTES)
        sealed = base64.b64encode(nonce + cipher.encrypt(nonce, value.encode(), name.encode())).decode()
        await self._ctx.store.put_secret(name, sealed, self._ctx.clock())
        await self._ctx.audit.record(AuditAction.SECRET_PUT, TargetKind.SECRET, name)

    async def delete(self, name: str) -> None:
        self._require_cipher()
        _check_name(name)
        if not await self._ctx.store.delete_secret(name):
            raise NotFoundError(f"No such secret: {name}")
        await self._ctx.audit.record(AuditAction.SECRET_DELETED, TargetKind.SECRET, name)

    async def names(self) -> list[str]:
        self._require_cipher()
        return await self._ctx.store.secret_names()

    async def exists(self, name: str) -> bool:
        self._require_cipher()
        _check_name(name)
        return await self._ctx.store.secret_exists(name)

    async def reveal(self, task: Task) -> Revealed:
        """``task`` with its secrets' values in its input; SecretUnavailable when one cannot be given."""
        places = task.secret_inputs
        if isinstance(places, msgspec.UnsetType) or not places:
            return Revealed(task)
        wanted = {name for place in places for name in place.names}
        if self._cipher is None:
            raise SecretUnavailable(
                f"The task's input names secrets ({', '.join(sorted(wanted))}) but this server has no"
                " BATON_SECRETS_KEY to read them with",
                terminal=True,
            )
        sealed = await self._ctx.store.sealed_secrets(wanted)
        missing = sorted(wanted - sealed.keys())
        if missing:
            raise SecretUnavailable(
                f"The task's input names secrets that do not exist: {', '.join(missing)}", terminal=False
            )
        values = {name: self._open(self._cipher, name, text) for name, text in sealed.items()}
        input_data = _with_values(task.input_data, places, values)
        return Revealed(msgspec.structs.replace(task, input_data=input_data), tuple(values.values()))

    def _require_cipher(self) -> AESGCM:
        if self._cipher is None:
            raise NotConfiguredError(_NOT_CONFIGURED)
        return self._cipher

    @staticmethod
    def _open(cipher: AESGCM, name: str, sealed: str) -> str:
        raw = base64.b64decode(sealed)
        try:
            return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], name.encode()).decode()
        except InvalidTag:
            raise SecretUnavailable(
                f"Secret {name} cannot be decrypted with this server's BATON_SECRETS_KEY (was it stored under"
                " another key?)",
                terminal=True,
            ) from None


def _check_name(name: str) -> None:
    problem = secret_name_problem(name)
    if problem is not None:
        raise ValidationError(errors=[FieldError("name", problem)])


def _with_values(input_data: dict[str, Any], places: Iterable[SecretInput], values: dict[str, str]) -> dict[str, Any]:
    """A copy of ``input_data`` with each place's text written. Only where the input still holds the masked text
    the step wrote: an input an operator replaced (a rerun's) keeps what it was given."""
    copied: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(input_data))
    for place in places:
        container: Any = copied
        for key in place.path[:-1]:
            container = _child(container, key)
        last = place.path[-1]
        masked = place.text_with(dict.fromkeys(place.names, MASK))
        if _child(container, last) == masked:
            container[last] = place.text_with(values)
    return copied


def _child(container: Any, key: str | int) -> Any:
    if isinstance(container, dict) and isinstance(key, str):
        return container.get(key)
    if isinstance(container, list) and isinstance(key, int) and 0 <= key < len(container):
        return container[key]
    return None


def _masked(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {_masked(key, secrets): _masked(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item, secrets) for item in value]
    return value
