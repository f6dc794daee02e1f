"""The README's "A first run" section, run as written: ``baton serve --examples``, ``baton worker
examples/workers.py``, then each ``curl`` command of the section in one bash session, each answer checked
against the ``# {...}`` line the README prints under it.

An expected line is JSON but for two shorthands: ``"..."`` is any value, and a trailing ``, ...}`` lets the
object hold more keys than it shows (an object without it must match exactly).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import STORES, ServerProcess, fresh_database
from tests.helpers import wait_for_status

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).parent.parent
README = ROOT / "README.md"
SECTION = "## A first run"
WORKER_COMMAND = ".venv/bin/baton worker examples/workers.py"
_END = "@@end-of-command@@"
_ANY = "\x00any"
_MORE = "\x00more"


def readme_section() -> str:
    text = README.read_text()
    start = text.index(SECTION)
    end = text.find("\n## ", start + len(SECTION))
    return text[start : end if end >= 0 else len(text)]


def shell_blocks(section: str) -> list[str]:
    return re.findall(r"```sh\n(.*?)```", section, re.DOTALL)


def commands_with_expectations(block: str) -> list[tuple[str, list[str]]]:
    """The block's commands (continuation lines joined), each with the ``# {...}`` lines right below it."""
    found: list[tuple[str, list[str]]] = []
    pending = ""
    for line in block.splitlines():
        if pending:
            pending += "\n" + line
        elif line.startswith("# "):
            if found and line[2:].lstrip().startswith("{"):
                found[-1][1].append(line[2:])
            continue
        else:
            pending = line
        if pending.endswith("\\"):
            continue
        if pending.strip():
            found.append((pending, []))
        pending = ""
    return found


def expectation(text: str) -> Any:
    """The README's shorthand as JSON: ``"..."`` marks any value, ``, ...}`` an object that may hold more."""
    marked = text.replace('"..."', json.dumps(_ANY)).replace(", ...}", f", {json.dumps(_MORE)}: true}}")
    return json.loads(marked)


def matches(expected: Any, actual: Any) -> bool:
    if expected == _ANY:
        return True
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return False
        keys = {k for k in expected if k != _MORE}
        if _MORE not in expected and keys != set(actual):
            return False
        return all(k in actual and matches(expected[k], actual[k]) for k in keys)
    if isinstance(expected, list):
        return isinstance(actual, list) and len(expected) == len(actual) and all(map(matches, expected, actual))
    return bool(expected == actual and type(expected) is type(actual))


def test_the_expectation_shorthand() -> None:
    loose = expectation('{"a": "...", "b": {"c": 1}, ...}')
    assert matches(loose, {"a": [1], "b": {"c": 1}, "d": 2})
    assert not matches(loose, {"a": 1, "b": {"c": 1, "e": 2}})
    assert not matches(loose, {"b": {"c": 1}})
    assert not matches(expectation('{"a": true}'), {"a": 1})
    assert not matches(expectation('{"a": 1}'), {"a": 1, "b": 2})


@pytest.fixture(params=STORES)
def examples_server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ServerProcess]:
    """``baton serve --examples`` on a fresh database, and ``baton worker examples/workers.py`` beside it."""
    with fresh_database(request.param, tmp_path) as url:
        server = ServerProcess(url, tmp_path / "server.log", ["--examples"])
        server.start()
        worker_log = tmp_path / "worker.log"
        with worker_log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "baton", "worker", "examples/workers.py", "--server", server.url],
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        try:
            yield server
        finally:
            worker.terminate()
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(timeout=10)
            server.stop()


def test_the_readme_names_the_commands_this_test_runs() -> None:
    section = readme_section()
    assert "baton serve --examples" in section
    assert 'AUTH="Authorization: Bearer $(.venv/bin/baton token' in section
    assert WORKER_COMMAND in section
    for worker in ("charge_payment", "ship_order", "kyb_check"):
        assert f'@worker_task("{worker}")' in (ROOT / "examples" / "workers.py").read_text()


def test_every_example_runs_as_the_readme_says(examples_server: ServerProcess) -> None:
    host = examples_server.url.removeprefix("http://")
    steps = [
        (command, expected)
        for block in shell_blocks(readme_section())
        for command, expected in commands_with_expectations(block)
        if command.lstrip().startswith(("curl", "id=", "AUTH="))
    ]
    checked = [expected for _, expected in steps if expected]
    assert len(steps) >= 6 and len(checked) >= 4, steps
    script = "set -eu\n" + "".join(
        f"{command.replace('localhost:8080', host)}\necho\necho {_END}\n" for command, _ in steps
    )
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, (done.stdout, done.stderr)
    answers = done.stdout.split(f"{_END}\n")[: len(steps)]
    assert len(answers) == len(steps), done.stdout
    for (command, expected_lines), answer in zip(steps, answers, strict=True):
        for line in expected_lines:
            actual = json.loads(answer)
            assert matches(expectation(line), actual), (command, line, actual)


def test_an_approval_without_a_decision_fails_the_run_saying_why(examples_server: ServerProcess) -> None:
    with examples_server.client(timeout=30) as client:
        waiting = client.post(
            "/api/workflow/execute/customer_onboarding",
            json={"input": {"companyName": "Acme Ltd", "country": "XX"}},
            params={"waitForSeconds": 30},
        )
        assert waiting.status_code == 206, waiting.text
        workflow_id = waiting.json()["workflowId"]
        assert waiting.json()["variables"] == {"riskScore": 90}
        done = client.post(f"/api/tasks/{workflow_id}/approval/COMPLETED", json={"reviewer": "ada"})
        assert done.status_code == 200, done.text
        run = wait_for_status(client, workflow_id, "FAILED")
    assert run["reasonForIncompletion"].startswith("the approval's output has no boolean 'approved'")
    assert '{"approved": true, "reviewer": "ada"}' in run["reasonForIncompletion"]
    assert run["output"] == {"approval": {"reviewer": "ada"}}
