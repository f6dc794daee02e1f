"""A request described once (``Call``) and what both clients do around sending one.

A ``Call`` holds the method, path, query, headers, body and how to read the
answer; the sync and async clients differ only in how they send it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import httpx

from baton.errors import FieldError
from baton.sdk.client.errors import BatonApiError

__all__ = ["DEFAULT_TIMEOUT", "Call", "flag", "read_error", "server_root", "with_extra_timeout"]

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0
"""Seconds a request may take, on top of any wait the request itself asks for."""


@dataclass(frozen=True, kw_only=True)
class Call(Generic[T]):
    method: str
    path: str
    parse: Callable[[httpx.Response], T]
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    extra_timeout: float = 0.0


def flag(value: bool) -> str:
    return "true" if value else "false"


def read_error(response: httpx.Response) -> BatonApiError:
    """Read Conductor's error body ``{"status", "message", "validationErrors"}``, else the raw text."""
    text = response.text
    message: str | None = None
    errors: list[FieldError] = []
    try:
        body = json.loads(text) if text else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        raw_message = body.get("message") or body.get("error")
        message = str(raw_message) if raw_message is not None else None
        for item in body.get("validationErrors") or []:
            if isinstance(item, dict):
                errors.append(FieldError(str(item.get("path", "")), str(item.get("message", ""))))
    elif text:
        message = text.strip()[:500]
    return BatonApiError(response.status_code, message, errors, body=text)


def with_extra_timeout(base: httpx.Timeout, extra: float) -> httpx.Timeout:
    if not extra:
        return base
    read = base.read + extra if base.read is not None else None
    return httpx.Timeout(connect=base.connect, read=read, write=base.write, pool=base.pool)


def server_root(url: str) -> str:
    url = url.rstrip("/")
    # Accept a Conductor-style ".../api" server URL as well as the bare base URL.
    return url.removesuffix("/api")
