"""``baton serve``'s flags: every setting has one, documented with its default, and it reaches the server."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import baton
from baton.config import Settings, setting_docs
from tests.conftest import ServerProcess, free_port


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
        with server.client(timeout=10) as client:
            allowed = client.get("/api/tasks/poll/batch/t", params={"count": 5, "timeout": 1})
            refused = client.get("/api/tasks/poll/batch/t", params={"count": 6, "timeout": 1})
    finally:
        server.stop()
    assert allowed.status_code in (200, 204)
    assert refused.status_code == 400
    assert refused.json()["validationErrors"] == [{"path": "count", "message": "must be between 1 and 5"}]


def _refused_start(done: subprocess.CompletedProcess[str], *expected: str) -> None:
    """Exited non-zero with one line on stderr naming the problem, and never claimed to serve."""
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "serving on" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("baton serve: error: "), lines
    for part in expected:
        assert part in lines[0], lines


def test_serve_on_a_taken_port_says_so_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _serve("--port", str(port), "--db", f"sqlite:///{tmp_path / 'baton.db'}")
    _refused_start(done, f"cannot listen on 127.0.0.1:{port}", "in use")
    assert not (tmp_path / "baton.db").exists()


def test_serve_with_an_unreachable_postgresql_says_so_in_one_line() -> None:
    with socket.socket() as closed:  # a port nobody listens on: bound, never listening
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        done = _serve("--port", str(free_port()), "--db", f"postgresql://baton:secret@127.0.0.1:{port}/baton")
    _refused_start(done, "cannot open the database postgresql://baton:***@127.0.0.1", "failed to connect")
    assert "secret" not in done.stderr


def test_serve_with_a_sqlite_file_in_a_missing_folder_says_so_in_one_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'nowhere' / 'baton.db'}"
    done = _serve("--port", str(free_port()), "--db", url)
    _refused_start(done, f"cannot open the database {url}", "unable to open database file")


def test_serve_with_a_database_url_of_no_known_scheme_says_so_in_one_line() -> None:
    done = _serve("--port", str(free_port()), "--db", "mysql://db/baton")
    _refused_start(done, "cannot open the database mysql://db/baton", "use sqlite:/// or postgresql://")


def test_version() -> None:
    done = subprocess.run([sys.executable, "-m", "baton", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"baton {baton.__version__}"


def test_every_baton_variable_the_server_reads_is_in_serve_help() -> None:
    """A ``BATON_*`` name anywhere in the server's code is a setting ``baton serve --help`` documents; only the test
    suite's own (``baton/store/testing.py``) is not one."""
    named: set[str] = set()
    for path in Path(baton.__file__).parent.rglob("*.py"):
        if path.name != "testing.py":
            named |= set(re.findall(r"\bBATON_[A-Z][A-Z0-9_]*\b", path.read_text()))
    help_text = " ".join(_serve("--help").stdout.split())
    for field in fields(Settings):
        named.add(f"BATON_{field.name.upper()}")
    assert named, "no BATON_ variable found"
    missing = sorted(name for name in named if name not in help_text)
    assert missing == []


def test_worker_help_says_where_modules_come_from_and_each_default() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "baton", "worker", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "100"},
    )
    assert done.returncode == 0, done.stderr
    text = " ".join(done.stdout.split())
    assert "imported from the current directory" in text
    assert "file path" in text
    entries = _help_entries(done.stdout)
    assert "(default: http://127.0.0.1:8080)" in entries["--server"]
    assert "(default: 4)" in entries["--concurrency"]
    assert "(default: info)" in entries["--log-level"]
