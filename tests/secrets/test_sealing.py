"""The engine's side of secrets: where a step's input takes them, and what expressions read (``***``)."""

from __future__ import annotations

from baton.engine.expressions import resolve, workflow_document
from baton.engine.secrets import names_secrets, secret_inputs
from baton.model import Workflow, WorkflowDef, WorkflowTask
from baton.model.secrets import SecretInput, secret_name_problem


def _document() -> dict[str, object]:
    run = Workflow(workflow_id="w", workflow_name="flow", workflow_version=1, input={"user": "al", "n": {"a": 1}})
    return {"workflow": workflow_document(run)}


def test_expressions_read_every_secret_as_the_mask() -> None:
    document = _document()
    template = {"a": "${workflow.secrets.token}", "b": "x-${workflow.secrets.other}-y", "c": "${workflow.secrets}"}
    assert resolve(template, document) == {"a": "***", "b": "x-***-y", "c": {}}


def test_each_string_naming_secrets_is_recorded_with_the_text_around_them() -> None:
    step = WorkflowTask(
        name="t",
        task_reference_name="t",
        input_parameters={
            "plain": "${workflow.input.user}",
            "auth": "Bearer ${workflow.secrets.token}",
            "deep": [{"k": "${workflow.input.user}:${workflow.secrets.a}${workflow.secrets.b}|${workflow.input.n}"}],
            "escaped": "$${workflow.secrets.token}",
            "longer_path": "${workflow.secrets.token.x}",
        },
    )
    assert secret_inputs(step, _document()) == [
        SecretInput(path=["auth"], texts=["Bearer ", ""], names=["token"]),
        SecretInput(path=["deep", 0, "k"], texts=["al:", "", '|{"a":1}'], names=["a", "b"]),
    ]
    place = secret_inputs(step, _document())[1]
    assert place.text_with({"a": "1", "b": "2"}) == 'al:12|{"a":1}'
    assert place.text_with({"a": "***", "b": "***"}) == resolve(step.input_parameters, _document())["deep"][0]["k"]


def test_only_the_definitions_own_steps_count() -> None:
    naming = WorkflowTask(name="t", task_reference_name="uses", input_parameters={"k": "${workflow.secrets.s}"})
    plain = WorkflowTask(name="t", task_reference_name="plain", input_parameters={"k": "${workflow.input.s}"})
    definition = WorkflowDef(name="f", tasks=[naming, plain])
    assert names_secrets(definition, naming) and not names_secrets(definition, plain)
    # A step made from data under the same reference name (a dynamic fork's) is not the definition's own.
    lookalike = WorkflowTask(name="t", task_reference_name="uses", input_parameters={"k": "${workflow.secrets.s}"})
    assert not names_secrets(definition, lookalike)


def test_secret_names_are_what_an_expression_can_name() -> None:
    assert secret_name_problem("api-key_2") is None
    assert secret_name_problem("") == "must not be empty"
    assert secret_name_problem("a.b") is not None and secret_name_problem("a b") is not None
    assert secret_name_problem("x" * 256) is not None
