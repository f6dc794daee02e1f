"""Tokens from ``POST /api/token``: accepted on every surface until they expire (401 ``EXPIRED_TOKEN``), refused when
forged or made for a key since revoked (401 ``INVALID_TOKEN``), on this server at once and on another server of the
same database within ``access_cache_seconds``; Elsa's login gives the same tokens."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest

from tests.access.helpers import key_headers, make_key
from tests.conftest import ServerProcess
from tests.helpers import SHARED_TLS

pytestmark = pytest.mark.timeout(120)


def _token(client: httpx.Client, key: tuple[str, str]) -> str:
    answer = client.post("/api/token", json={"keyId": key[0], "keySecret": key[1]})
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


def test_a_token_works_on_every_surface_until_it_expires(short_tokens: ServerProcess) -> None:
    with short_tokens.client() as admin:
        key = make_key(admin, ["VIEWER"])
    with httpx.Client(base_url=short_tokens.url, timeout=30.0, verify=SHARED_TLS) as client:
        token = _token(client, key)
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["sub"] == key[0] and claims["exp"] - claims["iat"] == 2
        for headers in ({"X-Authorization": token}, {"Authorization": f"Bearer {token}"}):
            assert client.get("/api/metadata/workflow", headers=headers).status_code == 200
            assert client.get("/elsa/api/workflow-instances", headers=headers).status_code == 200
            assert client.get("/api/v1/webhooks", headers=headers).status_code == 200
        time.sleep(3.1)
        expired = client.get("/api/metadata/workflow", headers={"X-Authorization": token})
        assert expired.status_code == 401 and expired.json()["error"] == "EXPIRED_TOKEN"
        assert client.get("/api/metadata/workflow", headers={"X-Authorization": _token(client, key)}).status_code == 200


def test_forged_and_unknown_tokens_and_bad_keys_are_refused(server: ServerProcess) -> None:
    with server.client() as admin:
        key = make_key(admin, ["VIEWER"])
    with httpx.Client(base_url=server.url, timeout=30.0, verify=SHARED_TLS) as client:
        forged = jwt.encode(
            {"sub": key[0], "exp": int(time.time()) + 600},
            "not-the-secret-of-this-server-but-long-enough",
            algorithm="HS256",
        )
        unsigned = jwt.encode({"sub": key[0], "exp": int(time.time()) + 600}, "", algorithm="none")
        for token in (forged, unsigned, "not.a.jwt", "garbage"):
            answer = client.get("/api/metadata/workflow", headers={"X-Authorization": token})
            assert answer.status_code == 401 and answer.json()["error"] == "INVALID_TOKEN", token
        for body, field in (
            ({"keyId": key[0], "keySecret": "wrong"}, None),
            ({"keyId": "nosuch", "keySecret": key[1]}, None),
            ({"keyId": key[0]}, "keySecret"),
            ({}, "keyId"),
        ):
            answer = client.post("/api/token", json=body)
            if field is None:
                assert answer.status_code == 401, answer.text
            else:
                assert answer.status_code == 400 and field in answer.text, answer.text


def test_revoking_a_key_ends_it_and_its_tokens_at_once(server: ServerProcess) -> None:
    with server.client() as admin:
        made = admin.post("/api/applications", json={"name": "revoked", "roles": ["VIEWER"]}).json()
        key = admin.post(f"/api/applications/{made['id']}/accessKeys").json()
        with httpx.Client(base_url=server.url, timeout=30.0, verify=SHARED_TLS) as client:
            token = _token(client, (key["id"], key["secret"]))
            headers = {"X-Authorization": token}
            assert client.get("/api/metadata/workflow", headers=headers).status_code == 200
            toggled = admin.post(f"/api/applications/{made['id']}/accessKeys/{key['id']}/status")
            assert toggled.status_code == 200 and toggled.json()["status"] == "INACTIVE"
            for sent in (headers, key_headers((key["id"], key["secret"]))):
                answer = client.get("/api/metadata/workflow", headers=sent)
                assert answer.status_code == 401 and answer.json()["error"] == "INVALID_TOKEN"
            assert client.post("/api/token", json={"keyId": key["id"], "keySecret": key["secret"]}).status_code == 401
            admin.post(f"/api/applications/{made['id']}/accessKeys/{key['id']}/status")
            assert client.get("/api/metadata/workflow", headers=headers).status_code == 200
            assert admin.delete(f"/api/applications/{made['id']}/accessKeys/{key['id']}").status_code == 200
            assert client.get("/api/metadata/workflow", headers=headers).status_code == 401


def test_a_revocation_reaches_another_server_within_the_cache_interval(
    two_servers: tuple[ServerProcess, ServerProcess],
) -> None:
    first, second = two_servers
    with first.client() as admin:
        made = admin.post("/api/applications", json={"name": "shared", "roles": ["VIEWER"]}).json()
        key = admin.post(f"/api/applications/{made['id']}/accessKeys").json()
        with (
            httpx.Client(base_url=first.url, verify=SHARED_TLS) as on_first,
            httpx.Client(base_url=second.url, verify=SHARED_TLS) as on_second,
        ):
            token = _token(on_first, (key["id"], key["secret"]))
            assert on_second.get("/api/metadata/workflow", headers={"X-Authorization": token}).status_code == 200
            admin.post(f"/api/applications/{made['id']}/accessKeys/{key['id']}/status")
            revoked_at = time.monotonic()
            while on_second.get("/api/metadata/workflow", headers={"X-Authorization": token}).status_code == 200:
                assert time.monotonic() - revoked_at < 4.0, "the other server still takes the revoked key's token"
                time.sleep(0.1)


def test_elsa_login_gives_a_token(server: ServerProcess) -> None:
    with server.client() as admin:
        key = make_key(admin, ["VIEWER"])
    with httpx.Client(base_url=server.url, timeout=30.0, verify=SHARED_TLS) as client:
        login = client.post("/elsa/api/identity/login", json={"username": key[0], "password": key[1]})
        assert login.status_code == 200, login.text
        assert login.json()["isAuthenticated"] is True and login.json()["refreshToken"] is None
        headers = {"Authorization": f"Bearer {login.json()['accessToken']}"}
        assert client.get("/elsa/api/workflow-instances", headers=headers).status_code == 200
        refused = client.post("/elsa/api/identity/login", json={"username": key[0], "password": "wrong"})
        assert refused.status_code == 401 and refused.json()["statusCode"] == 401
        missing = client.post("/elsa/api/identity/login", json={"username": key[0]})
        assert missing.status_code == 400 and "password" in missing.json()["errors"]
