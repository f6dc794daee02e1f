"""Keys of each role made through the API, and the headers that send them."""

from __future__ import annotations

from typing import Any

import httpx

from baton.model.access import Role


def make_key(client: httpx.Client, roles: list[str], **limits: Any) -> tuple[str, str]:
    """A new application of ``roles`` (``taskTypes`` / ``queues`` limits in ``limits``) and a key of it."""
    made = client.post("/api/applications", json={"name": f"app-{'-'.join(roles)}", "roles": roles, **limits})
    assert made.status_code == 200, made.text
    key = client.post(f"/api/applications/{made.json()['id']}/accessKeys")
    assert key.status_code == 200, key.text
    return key.json()["id"], key.json()["secret"]


def key_headers(key: tuple[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key[0]}:{key[1]}"}


def role_keys(client: httpx.Client) -> dict[Role, tuple[str, str]]:
    return {role: make_key(client, [role.value]) for role in Role}
