"""The curl of each way a run of a definition starts from outside, for the start page: Conductor's start and its
sync execute, Elsa's execute, Ballerine's run, and the HTTP-endpoint trigger when the definition's first step is
one that can start it. Each sends ``-H "$AUTH"`` as the README's curls do (``AUTH="Authorization: Bearer ..."``),
and a body made of the input the page is given (a sample of the declared inputs). Every part of a command that
comes from the definition is quoted for the shell.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from baton.model import WorkflowDef
from baton.model.triggers import HTTP_KIND, triggers_of

_BODILESS = frozenset({"GET", "HEAD", "DELETE", "OPTIONS"})
DEFAULT_ENTITY_TYPE = "business"
"""The entity type a Ballerine run's sample context names when the definition is not a case of another."""


@dataclass(frozen=True, slots=True)
class WayIn:
    """One way in: ``key`` names it on the page (``conductor-start``, ``trigger-POST``, ...)."""

    key: str
    title: str
    note: str
    command: str


def _curl(method: str, url: str, body: Any | None = None, *, globs: bool = False) -> str:
    parts = ["curl", "-s", f"-X{method}", '-H "$AUTH"']
    if globs:
        parts.append("-g")
    parts.append(shlex.quote(url))
    if body is not None:
        parts += ["-H", "'content-type: application/json'", "\\\n     -d", shlex.quote(json.dumps(body))]
    return " ".join(parts)


def ways_in(definition: WorkflowDef, base_url: str, trigger_base: str, sample: dict[str, Any]) -> list[WayIn]:
    """The curls that start a run of ``definition`` on the server at ``base_url`` (``http://host:port``) whose
    HTTP-endpoint triggers are under ``trigger_base`` (``/workflows``), with ``sample`` as the run's input."""
    name, version = quote(definition.name, safe=""), definition.version
    entity_type = definition.case.entity_type if definition.case is not None else None
    context = {"entity": {"type": entity_type or DEFAULT_ENTITY_TYPE, "id": "<entity id>", "data": {}}, **sample}
    found = [
        WayIn(
            "conductor-start",
            "Conductor: start",
            "Answers the new run's id at once.",
            _curl("POST", f"{base_url}/api/workflow/{name}?version={version}", sample),
        ),
        WayIn(
            "conductor-execute",
            "Conductor: execute (sync)",
            "Answers when the run ends, or 206 when it waits (at most waitForSeconds).",
            _curl("POST", f"{base_url}/api/workflow/execute/{name}/{version}", {"input": sample}),
        ),
        WayIn(
            "elsa-execute",
            "Elsa: execute",
            "Answers the run's state once it ends or waits on something outside the server.",
            _curl(
                "POST",
                f"{base_url}/elsa/api/workflow-definitions/{name}/execute",
                {"input": sample, "versionOptions": str(version)},
            ),
        ),
        WayIn(
            "ballerine-run",
            "Ballerine: run",
            "Starts the latest version about an entity; the context is the run's input.",
            _curl(
                "POST",
                f"{base_url}/api/v1/external/workflows/run",
                {"workflowId": definition.name, "context": context},
            ),
        ),
    ]
    first = definition.tasks[0] if definition.tasks else None
    written = first.input_parameters.get("path") if first is not None else None
    for trigger in triggers_of(definition):
        if trigger.kind != HTTP_KIND or not isinstance(written, str):
            continue
        url = f"{base_url}{trigger_base}/{written.strip().strip('/')}"
        body: dict[str, Any] | None = None if trigger.method in _BODILESS else {}
        found.append(
            WayIn(
                f"trigger-{trigger.method}",
                f"HTTP trigger: {trigger.method}",
                "Starts the latest version; the request is the first step's output, the answer the run's "
                "HTTP_RESPONSE. Put values in the path's {parameters}.",
                _curl(trigger.method, url, body, globs="{" in written),
            )
        )
    return found
