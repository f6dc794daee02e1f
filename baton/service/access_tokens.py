"""Who a request is: an access key's secret checked against its slow hash, and the signed tokens made from keys.

A secret is stored as a scrypt hash (``hash_secret``), which takes tens of milliseconds to check; a key that
matched once (or that this server has just made) is remembered by a fast digest of its id and secret, held
against the hash it matched, so the next request with it costs a dictionary look-up, and requests that bring an
unchecked key at once share one check. What a key stands for (its status, its application's roles) is re-read
from the store at most every ``access_cache_seconds``: a key revoked on this server stops at once (``reread``),
on another server within that interval. Tokens are HS256 JWTs (PyJWT) naming the key (``sub``) and their expiry
(``exp``); a token is accepted while its key is. A token whose signature checked is remembered with its expiry,
so a client sending the same token again costs a look-up too.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from baton.errors import AuthenticationError
from baton.model.access import KeyStatus, Principal, principal_of
from baton.store.roles import AccessStore

INVALID_TOKEN = "INVALID_TOKEN"
EXPIRED_TOKEN = "EXPIRED_TOKEN"
MISSING_CREDENTIALS = "MISSING_CREDENTIALS"
TOKEN_SECRET_NAME = "token_secret"
TOKEN_ALGORITHM = "HS256"

_MAX_VERIFIED_TOKENS = 10_000
"""Tokens remembered as verified at most; when full the memory starts over (each is checked again once)."""
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
"""scrypt's cost: about 16 MiB and a few tens of milliseconds a check, the interactive-login figures."""
_MOST_SLOW_CHECKS = 2
"""Slow checks run at once at most: a flood of wrong secrets for a key not yet matched waits its turn rather
than taking every core (a key that matched once refuses a wrong secret by its fast digest)."""


def _scrypt(secret: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(secret.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)


def hash_secret(secret: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64): the only form a secret is stored in."""
    salt = secrets.token_bytes(16)
    digest = _scrypt(secret, salt, _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${encoded[0]}${encoded[1]}"


def secret_matches(secret: str, stored: str) -> bool:
    """Whether ``secret`` hashes to ``stored``, compared in constant time; False for a hash of no known form."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        computed = _scrypt(secret, base64.b64decode(salt), int(n), int(r), int(p))
        return hmac.compare_digest(computed, base64.b64decode(digest))
    except ValueError:
        return False


def _fast_digest(key_id: str, secret: str) -> bytes:
    return hashlib.sha256(f"{key_id}\0{secret}".encode()).digest()


@dataclass(slots=True)
class _Known:
    principal: Principal
    secret_hash: str
    read_at: float


class Authenticator:
    """Turns a key (id and secret) or a token into the principal it stands for, or AuthenticationError."""

    def __init__(self, store: AccessStore, *, token_lifetime_seconds: int, cache_seconds: float) -> None:
        self._store = store
        self._lifetime = token_lifetime_seconds
        self._cache_seconds = cache_seconds
        self._known: dict[str, _Known] = {}
        self._matched: dict[str, tuple[str, bytes]] = {}
        """Key id -> the slow hash a secret matched and that secret's fast digest. Held apart from ``_known``: a
        key read again keeps it while its hash is the same (a key made again under its id has another)."""
        self._verified_tokens: dict[str, tuple[str, int]] = {}
        """A token whose signature checked -> its key id and expiry: the next request with it skips the JWT decode."""
        self._signing_secret = ""
        self._slow_checks = asyncio.Semaphore(_MOST_SLOW_CHECKS)
        self._checking: dict[tuple[str, str, bytes], asyncio.Future[bool]] = {}
        """Slow checks under way, by key id, hash and the secret's digest: requests that bring the same key and
        secret at once (workers starting together) wait for one check, not one each."""
        self.slow_checks_run = 0
        """How many scrypt checks ran (for tests and diagnostics)."""

    async def load_signing_secret(self, configured: str) -> None:
        """The configured secret, else the one every server on the database shares (made by the first)."""
        self._signing_secret = configured or await self._store.shared_value(
            TOKEN_SECRET_NAME, secrets.token_urlsafe(48)
        )

    def reread(self, key_id: str) -> None:
        """Read what a key stands for from the store at its next use (revoked, deleted, its application changed)."""
        self._known.pop(key_id, None)

    def reread_all(self) -> None:
        self._known.clear()

    def remember(self, key_id: str, secret_hash: str, secret: str) -> None:
        """A key this server has just made: ``secret`` is the one ``secret_hash`` was made from, so its first use
        needs no slow check."""
        self._matched[key_id] = (secret_hash, _fast_digest(key_id, secret))

    async def by_key(self, key_id: str, secret: str) -> Principal:
        known = await self._current(key_id)
        digest = _fast_digest(key_id, secret)
        matched = self._matched.get(key_id)
        if matched is not None and matched[0] == known.secret_hash:
            if hmac.compare_digest(matched[1], digest):
                return known.principal
            raise AuthenticationError(INVALID_TOKEN, "Invalid access key")
        under_way = (key_id, known.secret_hash, digest)
        check = self._checking.get(under_way)
        if check is None:
            check = asyncio.ensure_future(self._slow_check(secret, known.secret_hash))
            self._checking[under_way] = check
            check.add_done_callback(lambda _: self._checking.pop(under_way, None))
        if not await asyncio.shield(check):
            raise AuthenticationError(INVALID_TOKEN, "Invalid access key")
        self._matched[key_id] = (known.secret_hash, digest)
        return known.principal

    async def _slow_check(self, secret: str, secret_hash: str) -> bool:
        async with self._slow_checks:
            self.slow_checks_run += 1
            return await asyncio.to_thread(secret_matches, secret, secret_hash)

    async def by_token(self, token: str) -> Principal:
        verified = self._verified_tokens.get(token)
        if verified is not None:
            key_id, expires = verified
            if time.time() >= expires:
                del self._verified_tokens[token]
                raise AuthenticationError(EXPIRED_TOKEN, "Token expired")
            return (await self._current(key_id)).principal
        import jwt  # with the first token: PyJWT loads most of cryptography, which a server of keys never needs

        try:
            claims = jwt.decode(
                token, self._signing_secret, algorithms=[TOKEN_ALGORITHM], options={"require": ["exp", "sub"]}
            )
        except jwt.ExpiredSignatureError:
            raise AuthenticationError(EXPIRED_TOKEN, "Token expired") from None
        except jwt.InvalidTokenError:
            raise AuthenticationError(INVALID_TOKEN, "Invalid token") from None
        key_id, expires = claims["sub"], claims["exp"]
        if not isinstance(key_id, str) or not isinstance(expires, int):
            raise AuthenticationError(INVALID_TOKEN, "Invalid token")
        principal = (await self._current(key_id)).principal
        if len(self._verified_tokens) >= _MAX_VERIFIED_TOKENS:
            self._verified_tokens.clear()
        self._verified_tokens[token] = (key_id, expires)
        return principal

    async def issue_token(self, key_id: str, secret: str) -> str:
        await self.by_key(key_id, secret)
        now = int(time.time())
        claims = {"sub": key_id, "iat": now, "exp": now + self._lifetime}
        import jwt

        return jwt.encode(claims, self._signing_secret, algorithm=TOKEN_ALGORITHM)

    async def _current(self, key_id: str) -> _Known:
        """What the key stands for, read again once ``cache_seconds`` old; INVALID_TOKEN for a key not active."""
        now = time.monotonic()
        known = self._known.get(key_id)
        if known is not None and now - known.read_at < self._cache_seconds:
            return known
        key = await self._store.get_access_key(key_id)
        application = None if key is None else await self._store.get_application(key.application_id)
        if key is None or application is None or key.status is not KeyStatus.ACTIVE:
            self._known.pop(key_id, None)
            if key is None:
                self._matched.pop(key_id, None)
            raise AuthenticationError(INVALID_TOKEN, "Invalid access key")
        fresh = _Known(principal_of(key, application), key.secret_hash, now)
        self._known[key_id] = fresh
        return fresh
