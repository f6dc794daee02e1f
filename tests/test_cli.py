"""``baton serve``'s flags: every setting has one, documented with its default, and it reaches the server."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import httpx

from baton.config import Settings, setting_docs
from tests.conftest import ServerProcess


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "baton", "serve", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "100", **(env or {})},
    )


def _help_entries(help_text: str) -> dict[str, str]:
    """Each option's entry in ``--help`` (its flags, then its help), whitespace collapsed, by its flags."""
    options = help_text.split("options:", 1)[1]
    entries: dict[str, str] = {}
    current: list[str] = []
    for line in options.splitlines():
        if line.startswith("  -"):
            current = [line]
            entries[line.split()[0].rstrip(",")] = ""
        elif current:
            current.append(line)
        if current:
            entries[current[0].split()[0].rstrip(",")] = " ".join(" ".join(current).split())
    return entries


def test_serve_help_lists_every_setting_with_its_docstring_and_default() -> None:
    done = _serve("--help")
    assert done.returncode == 0, done.stderr
    entries = {flag: text for text in _help_entries(done.stdout).values() for flag in re.findall(r"--[a-z-]+", text)}
    docs = setting_docs()
    for f in fields(Settings):
        flag = "--" + f.name.replace("_", "-")
        assert flag in entries, flag
        entry = entries[flag]
        assert f"(default: {f.default}" in entry, (flag, entry)
        assert f"env BATON_{f.name.upper()})" in entry, (flag, entry)
        first_words = " ".join(docs[f.name].replace("``", "").split()[:4])
        assert first_words in entry, (flag, entry)


def test_every_settings_field_has_a_docstring() -> None:
    docs = setting_docs()
    assert {f.name for f in fields(Settings)} == {name for name, doc in docs.items() if doc}


def test_the_old_flags_still_parse() -> None:
    done = _serve("--db", "sqlite:///x.db", "--host", "127.0.0.1", "--port", "x", "--examples")
    assert done.returncode == 2
    assert "argument --port: invalid int value: 'x'" in done.stderr


def test_a_bad_environment_value_is_named_and_refused() -> None:
    done = _serve(env={"BATON_MAX_POLL_COUNT": "many"})
    assert done.returncode == 2
    assert "BATON_MAX_POLL_COUNT: not a valid int: 'many'" in done.stderr


def test_a_setting_without_a_hand_written_flag_reaches_the_server(tmp_path: Path) -> None:
    server = ServerProcess(f"sqlite:///{tmp_path / 'baton.db'}", tmp_path / "server.log", ["--max-poll-count", "5"])
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            allowed = client.get("/api/tasks/poll/batch/t", params={"count": 5, "timeout": 1})
            refused = client.get("/api/tasks/poll/batch/t", params={"count": 6, "timeout": 1})
    finally:
        server.stop()
    assert allowed.status_code in (200, 204)
    assert refused.status_code == 400
    assert refused.json()["validationErrors"] == [{"path": "count", "message": "must be between 1 and 5"}]
