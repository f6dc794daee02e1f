"""The credentials file: the access key the first ``baton serve`` made, read by the ``baton`` CLI and the SDK.

Written once, readable by its owner only (0600). ``BATON_CREDENTIALS_FILE`` (or the server's
``credentials_file`` setting) moves it from ``~/.config/baton/credentials.json``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_CREDENTIALS_FILE = "~/.config/baton/credentials.json"
CREDENTIALS_FILE_VARIABLE = "BATON_CREDENTIALS_FILE"


@dataclass(frozen=True, slots=True)
class Credentials:
    key_id: str
    key_secret: str
    server_url: str = ""


def credentials_path(configured: str = "") -> Path:
    """``configured``, else ``BATON_CREDENTIALS_FILE``, else the default, with ``~`` expanded."""
    chosen = configured or os.environ.get(CREDENTIALS_FILE_VARIABLE) or DEFAULT_CREDENTIALS_FILE
    return Path(chosen).expanduser()


def write_credentials(path: Path, credentials: Credentials) -> None:
    """Write the file readable by its owner only: created 0600, never world-readable for an instant."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = json.dumps(
        {"keyId": credentials.key_id, "keySecret": credentials.key_secret, "serverUrl": credentials.server_url},
        indent=2,
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(text + "\n")


def read_credentials(path: Path) -> Credentials | None:
    """The file's key, or None when there is no file (or it holds no key)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    key_id, key_secret = data.get("keyId"), data.get("keySecret")
    if not isinstance(key_id, str) or not isinstance(key_secret, str) or not key_id or not key_secret:
        return None
    server_url = data.get("serverUrl")
    return Credentials(key_id, key_secret, server_url if isinstance(server_url, str) else "")


KEY_ID_VARIABLE = "BATON_KEY_ID"
KEY_SECRET_VARIABLE = "BATON_KEY_SECRET"


def find_credentials(key_id: str | None = None, key_secret: str | None = None) -> Credentials | None:
    """A client's key: the one given, else ``BATON_KEY_ID`` / ``BATON_KEY_SECRET``, else the credentials file's."""
    if key_id and key_secret:
        return Credentials(key_id, key_secret)
    from_env = os.environ.get(KEY_ID_VARIABLE), os.environ.get(KEY_SECRET_VARIABLE)
    if from_env[0] and from_env[1]:
        return Credentials(from_env[0], from_env[1])
    return read_credentials(credentials_path())


def credential_headers(key_id: str | None = None, key_secret: str | None = None) -> dict[str, str]:
    """``Authorization: Bearer <keyId>:<keySecret>`` for the key ``find_credentials`` finds; none without one.

    The key itself rather than a token: the server remembers a checked key, so it costs no more, and it never
    expires mid-run."""
    found = find_credentials(key_id, key_secret)
    return {} if found is None else {"Authorization": f"Bearer {found.key_id}:{found.key_secret}"}
