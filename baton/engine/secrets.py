"""Where a step's input refers to secrets: ``${workflow.secrets.<name>}``.

Expressions read every secret as ``***`` (``expressions.MASKED_SECRETS``), so a task's stored input, a run's
variables and output never hold a value. For each string of a step's ``inputParameters`` that names a secret,
``secret_inputs`` records a ``SecretInput``: its place in the task's input, the text around each secret (the
step's other expressions resolved now, as ``resolve`` would write them) and the secrets' names. The service
fills the values in when it hands the task out (``service/secrets.py``).

Only the steps of the definition itself count (``names_secrets``): a step a dynamic fork made from data (a run's
input) names secrets in vain, so data flowing through a run can never ask for a secret.
"""

from __future__ import annotations

from typing import Any, Final

from baton.engine.expressions import Document, Segment, read_path, template_parts, to_text
from baton.engine.identity_memo import IdentityMemo
from baton.model import WorkflowDef, WorkflowTask
from baton.model.secrets import SecretInput

_SECRETS_ROOT: Final = ("workflow", "secrets")
_MEMO_SIZE: Final = 1024


def secret_name(path: tuple[Segment, ...]) -> str | None:
    """The secret an expression's path names (``workflow.secrets.<name>``), or None."""
    if len(path) == 3 and path[:2] == _SECRETS_ROOT and isinstance(path[2], str):
        return path[2]
    return None


def _names_secrets(value: Any) -> bool:
    if isinstance(value, str):
        return (
            "secrets" in value
            and "${" in value
            and any(not isinstance(part, str) and secret_name(part) is not None for part in template_parts(value))
        )
    if isinstance(value, dict):
        return any(_names_secrets(item) for item in value.values())
    if isinstance(value, list):
        return any(_names_secrets(item) for item in value)
    return False


_secret_steps: IdentityMemo[frozenset[int]] = IdentityMemo(max_entries=_MEMO_SIZE, max_weight=_MEMO_SIZE * 8)


def names_secrets(definition: WorkflowDef, step: WorkflowTask) -> bool:
    """Whether ``step`` is one of the definition's own steps (the very object: a step a dynamic fork made may
    reuse a reference name) and its input names a secret. What it finds is memoised per definition; the memo
    holds the definition, which holds its steps, so their ids are theirs while it lasts."""
    found = _secret_steps.get(definition)
    if found is None:
        naming = frozenset(id(s) for s in definition.all_tasks() if _names_secrets(s.input_parameters))
        found = _secret_steps.put(definition, naming)
    return id(step) in found


def secret_inputs(step: WorkflowTask, document: Document) -> list[SecretInput]:
    """Where the step's input takes secret values, with the text around them resolved against ``document``."""
    found: list[SecretInput] = []
    _collect(step.input_parameters, [], document, found)
    return found


def _collect(value: Any, path: list[str | int], document: Document, found: list[SecretInput]) -> None:
    if isinstance(value, str):
        if "secrets" in value and "${" in value:
            made = _secret_input(value, path, document)
            if made is not None:
                found.append(made)
    elif isinstance(value, dict):
        for key, item in value.items():
            _collect(item, [*path, key], document, found)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _collect(item, [*path, index], document, found)


def _secret_input(text: str, path: list[str | int], document: Document) -> SecretInput | None:
    texts, names = [""], []
    for part in template_parts(text):
        if isinstance(part, str):
            texts[-1] += part
            continue
        name = secret_name(part)
        if name is None:
            texts[-1] += to_text(read_path(document, part))
        else:
            names.append(name)
            texts.append("")
    return SecretInput(path=path, texts=texts, names=names) if names else None
