"""``scripts/run-tests --quick`` (``make test-fast``) collects the quick suite: no slow or serial test, the tests of
both stores on SQLite alone unless ``BATON_TEST_STORES`` says otherwise, and a bad store name is refused."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
SAMPLE = ["tests/api/test_crash_recovery.py", "tests/sandbox/test_bounds.py", "tests/api/test_runs.py", "tests/store"]
"""What is collected: a slow file, a serial one, and tests of both stores (a whole collection takes seconds)."""


def _collected(*arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("BATON_TEST_")}
    return subprocess.run(
        [
            "bash",
            "scripts/run-tests",
            *arguments,
            ".venv/bin/pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            *SAMPLE,
        ],
        cwd=ROOT,
        env={**environment, "TEST_WORKERS": "0", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _test_ids(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


@pytest.mark.parametrize(("chosen", "left_out"), [("", "postgres"), ("postgres", "sqlite")], ids=["unset", "postgres"])
def test_the_quick_suite_leaves_out_the_slow_and_serial_tests_and_the_other_store(chosen: str, left_out: str) -> None:
    env = {"BATON_TEST_STORES": chosen} if chosen else {}
    quick = _test_ids(_collected("--quick", **env))
    assert "tests/api/test_crash_recovery.py" not in "\n".join(quick)  # slow
    assert "tests/sandbox/test_bounds.py" not in "\n".join(quick)  # serial
    on_the_other_store = re.compile(rf"[\[-]{left_out}[\]-]")
    assert not [test for test in quick if on_the_other_store.search(test)]
    kept = "sqlite" if left_out == "postgres" else "postgres"
    assert f"tests/api/test_runs.py::test_status_correlated_terminate_and_remove[{kept}]" in quick


def test_an_unknown_store_is_refused_naming_the_variable() -> None:
    done = _collected("--quick", BATON_TEST_STORES="sqlite,mysql")
    assert done.returncode != 0
    assert "BATON_TEST_STORES: unknown store mysql; the stores are sqlite, postgres" in done.stdout + done.stderr
