"""``/api/secrets`` over a real server on each store: names in, names out, never a value; bad input is a 400
naming the field and stores nothing; the value is stored encrypted."""

from __future__ import annotations

import asyncio
import base64
import sqlite3
from pathlib import Path

import asyncpg
import httpx
import pytest
from conductor.client.orkes.orkes_secret_client import OrkesSecretClient

from tests.conftest import ServerProcess
from tests.helpers import conductor_configuration, unique


def test_a_secret_is_stored_listed_asked_about_and_deleted_by_name(client: httpx.Client) -> None:
    name, other = unique("token"), unique("pem")
    value = "s3cr3t-" + unique("value")

    stored = client.put(f"/api/secrets/{name}", json=value)
    assert stored.status_code == 200 and stored.content == b""
    as_text = client.put(f"/api/secrets/{other}", content=b"line one\nline two", headers={"Content-Type": "text/plain"})
    assert as_text.status_code == 200

    names = client.get("/api/secrets").json()
    assert {name, other} <= set(names) and names == sorted(names)
    assert set(client.post("/api/secrets").json()) == set(names)  # Orkes's listAllSecretNames
    assert client.get(f"/api/secrets/{name}/exists").json() is True
    assert client.get(f"/api/secrets/{unique('none')}/exists").json() is False

    # No route answers the value: Orkes's GET /secrets/{name} is not served.
    read = client.get(f"/api/secrets/{name}")
    assert read.status_code == 405 and value not in read.text

    assert client.delete(f"/api/secrets/{name}").status_code == 200
    assert client.get(f"/api/secrets/{name}/exists").json() is False
    again = client.delete(f"/api/secrets/{name}")
    assert again.status_code == 404 and name in again.json()["message"]
    assert client.delete(f"/api/secrets/{other}").status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/secrets/has.dot", b'"v"', "name"),
        ("/api/secrets/has%20space", b'"v"', "name"),
        ("/api/secrets/{name}", b'""', "body"),
        ("/api/secrets/{name}", b"", "body"),
        ("/api/secrets/{name}", b"\xff\xfe", "body"),
    ],
)
def test_a_bad_name_or_value_is_a_400_naming_the_field_and_stores_nothing(
    client: httpx.Client, path: str, body: bytes, field: str
) -> None:
    name = unique("bad")
    response = client.put(path.format(name=name), content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert [error["path"] for error in response.json()["validationErrors"]] == [field]
    assert name not in client.get("/api/secrets").json()
    assert not any(n.startswith("has") for n in client.get("/api/secrets").json())


def _sealed(server: ServerProcess, name: str) -> str:
    """The ``sealed`` column of a secret's row, read from the server's database directly."""
    url = server.database_url
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
            row = db.execute("SELECT sealed FROM secrets WHERE name = ?", (name,)).fetchone()
            return str(row[0])

    async def read() -> str:
        connection = await asyncpg.connect(url)
        try:
            return str(await connection.fetchval("SELECT sealed FROM secrets WHERE name = $1", name))
        finally:
            await connection.close()

    return asyncio.run(read())


def _database_bytes(server: ServerProcess) -> bytes:
    path = Path(server.database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def test_the_value_is_stored_encrypted(client: httpx.Client, server: ServerProcess) -> None:
    name, value = unique("at_rest"), "plaintext-" + unique("never-stored")
    assert client.put(f"/api/secrets/{name}", json=value).status_code == 200

    sealed = _sealed(server, name)
    raw = base64.b64decode(sealed)
    assert value not in sealed and value.encode() not in raw
    assert len(raw) == 12 + len(value.encode()) + 16  # nonce, ciphertext, tag
    if server.database_url.startswith("sqlite"):
        assert value.encode() not in _database_bytes(server)

    # A new value is sealed afresh: the same value twice never gives the same row.
    assert client.put(f"/api/secrets/{name}", json=value).status_code == 200
    again = _sealed(server, name)
    assert again != sealed
    client.delete(f"/api/secrets/{name}")


def test_the_official_clients_secret_client_works_unchanged(server: ServerProcess) -> None:
    secrets = OrkesSecretClient(conductor_configuration(server.url))
    name, value = unique("orkes"), "from-the-client-" + unique("v")
    secrets.put_secret(name, value)
    assert name in secrets.list_all_secret_names()
    assert secrets.secret_exists(name) is True
    secrets.delete_secret(name)
    assert secrets.secret_exists(name) is False
