"""``make serve`` installs only what the server runs on; ``make test`` the dev tools too; CI runs ``make test`` only.

Read with ``make -n -B`` (what make would run, every target out of date, nothing run).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).parent.parent


def _planned(target: str) -> list[str]:
    # Run by `make test`, this make would inherit the outer one's level and flags (and print "make[1]: ...").
    env = {name: value for name, value in os.environ.items() if name not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", "-B", target],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


def test_make_serve_installs_the_server_alone() -> None:
    installs = [line for line in _planned("serve") if "pip install" in line and "--upgrade pip" not in line]
    assert installs == [".venv/bin/python -m pip install --quiet -e ."]
    assert _planned("serve")[-1] == ".venv/bin/baton serve --examples"


def test_make_test_installs_the_dev_tools_and_lints() -> None:
    planned = _planned("test")
    assert ".venv/bin/python -m pip install --quiet -e '.[dev]'" in planned
    assert ".venv/bin/mypy" in planned
    assert "cd tests/node && npm ci --no-audit --no-fund" in planned
    assert planned[-1] == "bash scripts/run-tests .venv/bin/pytest"


def test_ci_runs_make_test_only() -> None:
    commands = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "set ", "cd "))
    ]
    assert commands == ["make test"]
