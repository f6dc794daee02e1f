"""Worker functions without a server: how they are called, what their results become, loading specs."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from baton.model import Task, TaskResult, TaskResultStatus
from baton.sdk import (
    InProgress,
    TerminalError,
    Worker,
    WorkerLoadError,
    WorkerRegistry,
    load_workers,
    worker_task,
)


def make_task(**input_data: Any) -> Task:
    return Task(
        task_id="t-1",
        task_type="demo",
        reference_task_name="demo_ref",
        workflow_instance_id="w-1",
        workflow_type="wf",
        input_data=input_data,
    )


def test_keyword_arguments_come_from_input_data() -> None:
    seen: dict[str, Any] = {}

    def fn(a: int, b: str = "dflt", c: Any = None) -> dict[str, Any]:
        seen.update(a=a, b=b, c=c)
        return {"sum": a + 1}

    result = Worker(task_type="demo", func=fn).execute(make_task(a=1, c=[1], other=5), worker_id="me")
    assert seen == {"a": 1, "b": "dflt", "c": [1]}
    assert result.status is TaskResultStatus.COMPLETED
    assert result.output_data == {"sum": 2}
    assert (result.task_id, result.workflow_instance_id, result.worker_id) == ("t-1", "w-1", "me")


def test_missing_required_input_is_none_and_var_keyword_gets_the_rest() -> None:
    def fn(a: Any, **rest: Any) -> dict[str, Any]:
        return {"a": a, "rest": rest}

    result = Worker(task_type="demo", func=fn).execute(make_task(x=1, y=2))
    assert result.output_data == {"a": None, "rest": {"x": 1, "y": 2}}


def test_function_annotated_with_task_gets_the_task() -> None:
    def fn(task: Task) -> dict[str, Any]:
        return {"ref": task.reference_task_name, "in": task.input_data}

    worker = Worker(task_type="demo", func=fn)
    assert worker.takes_task
    assert worker.execute(make_task(q=1)).output_data == {"ref": "demo_ref", "in": {"q": 1}}


def test_unannotated_task_parameter_is_an_input_named_task() -> None:
    def fn(task):  # type: ignore[no-untyped-def]
        return {"got": task}

    assert Worker(task_type="demo", func=fn).execute(make_task(task="x")).output_data == {"got": "x"}


@pytest.mark.parametrize(
    ("returned", "output"),
    [
        (None, {}),
        ({"k": 1}, {"k": 1}),
        (42, {"result": 42}),
        ("text", {"result": "text"}),
    ],
)
def test_return_values_become_output(returned: Any, output: dict[str, Any]) -> None:
    result = Worker(task_type="demo", func=lambda: returned).execute(make_task())
    assert result.status is TaskResultStatus.COMPLETED
    assert result.output_data == output


def test_dataclass_return_is_its_fields() -> None:
    @dataclasses.dataclass
    class Out:
        n: int
        s: str

    assert Worker(task_type="demo", func=lambda: Out(1, "a")).execute(make_task()).output_data == {
        "n": 1,
        "s": "a",
    }


def test_returned_task_result_is_sent_as_is_with_ids_filled() -> None:
    def fn(task: Task) -> TaskResult:
        return TaskResult(
            task_id="", status=TaskResultStatus.FAILED, reason_for_incompletion="nope", output_data={"o": 1}
        )

    result = Worker(task_type="demo", func=fn).execute(make_task(), worker_id="me")
    assert result.status is TaskResultStatus.FAILED
    assert (result.task_id, result.workflow_instance_id, result.worker_id) == ("t-1", "w-1", "me")
    assert result.reason_for_incompletion == "nope"


def test_in_progress() -> None:
    result = Worker(task_type="demo", func=lambda: InProgress(callback_after_seconds=5, output={"p": 1})).execute(
        make_task()
    )
    assert result.status is TaskResultStatus.IN_PROGRESS
    assert result.callback_after_seconds == 5
    assert result.output_data == {"p": 1}


def test_exception_fails_with_its_text() -> None:
    def fn() -> None:
        raise ValueError("bad input 7")

    result = Worker(task_type="demo", func=fn).execute(make_task())
    assert result.status is TaskResultStatus.FAILED
    assert result.reason_for_incompletion == "bad input 7"
    assert result.logs and "ValueError" in result.logs[0].log


def test_exception_without_text_uses_its_class_name() -> None:
    def fn() -> None:
        raise KeyError

    assert Worker(task_type="demo", func=fn).execute(make_task()).reason_for_incompletion == "KeyError"


def test_terminal_error_fails_for_good() -> None:
    def fn() -> None:
        raise TerminalError("no point retrying")

    result = Worker(task_type="demo", func=fn).execute(make_task())
    assert result.status is TaskResultStatus.FAILED_WITH_TERMINAL_ERROR
    assert result.reason_for_incompletion == "no point retrying"


def test_async_function_is_awaited() -> None:
    async def fn(n: int) -> dict[str, int]:
        return {"n": n * 3}

    assert Worker(task_type="demo", func=fn).execute(make_task(n=2)).output_data == {"n": 6}


def test_decorator_registers_and_returns_the_function_unchanged() -> None:
    registry = WorkerRegistry()

    @worker_task("decorated_demo", poll_interval_ms=7, domain="d1", concurrency=3, registry=registry)
    def fn(x: int) -> dict[str, int]:
        return {"x": x}

    assert fn(4) == {"x": 4}
    worker = registry.get("decorated_demo", "d1")
    assert worker is not None
    assert (worker.poll_interval_ms, worker.domain, worker.concurrency) == (7, "d1", 3)
    assert list(registry) == [worker]


def test_load_decorated_function_by_spec() -> None:
    (worker,) = load_workers(["tests.sdk.sdk_workers:add_one"])
    assert worker.task_type == "sdk_cli_add_one"
    assert worker.poll_interval_ms == 50


def test_load_plain_function_with_task_type() -> None:
    (worker,) = load_workers(["tests.sdk.sdk_workers:plain_square=sdk_cli_square"])
    assert worker.task_type == "sdk_cli_square"
    assert worker.execute(make_task(x=3)).output_data == {"x": 9}
    (named,) = load_workers(["tests.sdk.sdk_workers:plain_square"])
    assert named.task_type == "plain_square"


def test_load_whole_module() -> None:
    types = sorted(w.task_type for w in load_workers(["tests.sdk.sdk_workers"]))
    assert types == ["sdk_cli_add_one", "sdk_cli_double"]


def test_load_by_file_path(tmp_path: Path) -> None:
    """A file is imported under its stem, its folder first on sys.path (it may import its neighbours)."""
    (tmp_path / "pathed_helpers.py").write_text("BONUS = 5\n")
    (tmp_path / "pathed_workers.py").write_text(
        "from baton.sdk import worker_task\n"
        "from pathed_helpers import BONUS\n\n\n"
        '@worker_task("pathed_add")\n'
        "def add(x: int) -> dict[str, int]:\n"
        "    return {'x': x + BONUS}\n"
    )
    path = str(tmp_path / "pathed_workers.py")
    (whole,) = load_workers([path])
    (by_function,) = load_workers([f"{path}:add=pathed_other"])
    assert (whole.task_type, by_function.task_type) == ("pathed_add", "pathed_other")
    assert whole.execute(make_task(x=1)).output_data == {"x": 6}


def test_a_file_whose_name_is_taken_is_refused(tmp_path: Path) -> None:
    (tmp_path / "json.py").write_text("X = 1\n")
    with pytest.raises(WorkerLoadError, match="a module named 'json' is imported already"):
        load_workers([str(tmp_path / "json.py")])
    with pytest.raises(WorkerLoadError, match="no such file"):
        load_workers([str(tmp_path / "missing.py")])


@pytest.mark.parametrize(
    "spec",
    ["no_such_module_xyz:fn", "tests.sdk.sdk_workers:missing", "tests.sdk.sdk_workers:", ":fn", "json"],
)
def test_bad_specs_are_reported(spec: str) -> None:
    with pytest.raises(WorkerLoadError):
        load_workers([spec])
