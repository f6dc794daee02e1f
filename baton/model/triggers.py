"""What starts a run from outside and what a waiting step waits for: a definition's triggers and event names.

A definition whose first step is an ``HTTP_ENDPOINT``, ``WAIT`` or ``HUMAN`` with
``inputParameters.canStartWorkflow: true`` has triggers: a request to that path
and method, or an event of that name, starts a run of its latest version. A
``WAIT`` or ``HUMAN`` step anywhere waits for the event ``waited_event`` names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from baton.model.definitions import TaskType, WorkflowDef

HTTP_ENDPOINT: Final = "HTTP_ENDPOINT"
"""The task type of a step that waits for (or starts its run on) an HTTP request."""
HTTP_KIND: Final = "http"
EVENT_KIND: Final = "event"
EVENT_WAITING_TYPES: Final = frozenset({TaskType.WAIT.value, TaskType.HUMAN.value})
"""The step types an event completes."""
DEFAULT_METHODS: Final = ("GET",)
_PARAMETER: Final = re.compile(r"\{[^/{}]*\}")


@dataclass(frozen=True, slots=True)
class Trigger:
    """One way a definition's runs start: a request (``http``: ``key`` is the path, ``method`` its verb) or an
    event (``event``: ``key`` is the event name, ``method`` is empty)."""

    kind: str
    key: str
    method: str
    workflow_name: str
    workflow_version: int
    task_ref: str

    @property
    def shape(self) -> str:
        """What two triggers must not share: an http path with its parameters' names left out."""
        return route_shape(self.key) if self.kind == HTTP_KIND else self.key


def normalise_path(path: str) -> str:
    """A route template or a request path as triggers compare them: lower-case, no slash at either end."""
    return path.strip().strip("/").lower()


def route_shape(template: str) -> str:
    """``orders/{id}`` and ``orders/{orderId}`` serve the same requests: both are ``orders/{}``."""
    return _PARAMETER.sub("{}", normalise_path(template))


def waited_event(inputs: Mapping[str, Any], ref: str) -> str:
    """The event a WAIT or HUMAN step waits for: its ``event`` input when given, else its reference name."""
    named = inputs.get("event")
    return named if isinstance(named, str) and named else ref


def can_start_workflow(inputs: Mapping[str, Any]) -> bool:
    return inputs.get("canStartWorkflow") is True


def methods_of(inputs: Mapping[str, Any]) -> list[str]:
    """An HTTP_ENDPOINT's methods, upper-case (``["GET"]`` when none are given)."""
    given = inputs.get("methods")
    if isinstance(given, str):
        given = [given]
    if not isinstance(given, list) or not given:
        return list(DEFAULT_METHODS)
    return sorted({str(method).upper() for method in given})


def triggers_of(definition: WorkflowDef) -> list[Trigger]:
    """The triggers a definition's first step declares (none unless it says ``canStartWorkflow: true``)."""
    if not definition.tasks:
        return []
    first = definition.tasks[0]
    inputs = first.input_parameters
    if not can_start_workflow(inputs):
        return []
    name, version, ref = definition.name, definition.version, first.task_reference_name
    if first.type == HTTP_ENDPOINT:
        path = inputs.get("path")
        if not isinstance(path, str) or not normalise_path(path):
            return []
        key = normalise_path(path)
        return [Trigger(HTTP_KIND, key, method, name, version, ref) for method in methods_of(inputs)]
    if first.type in EVENT_WAITING_TYPES:
        return [Trigger(EVENT_KIND, waited_event(inputs, ref), "", name, version, ref)]
    return []
