"""What a Ballerine run's context and config may hold, and how an event's payload merges into the context.

Checked before anything is stored, each problem a 400 naming its field (``context.entity.type``,
``config.subscriptions[0].url``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from baton.errors import FieldError, ValidationError
from baton.model import WorkflowDef
from baton.model.arguments import input_errors
from baton.model.validation import CASE_ENTITY_TYPES, name_problem

WEBHOOK_EVENTS = ("workflow.completed", "workflow.state.changed", "workflow.context.document.changed")

_BOOLEAN_CONFIG = frozenset(
    {
        "allowMultipleActiveWorkflows",
        "createCollectionFlowToken",
        "enableManualCreation",
        "isManualCreation",
        "isAssociatedCompanyKybEnabled",
        "isCaseOverviewEnabled",
        "isCaseRiskOverviewEnabled",
        "isDemo",
        "isExample",
        "isLegacyReject",
        "isLockedDocumentCategoryAndType",
        "hasUboOngoingMonitoring",
        "workflowLevelResolution",
    }
)
_OTHER_CONFIG = frozenset({"subscriptions", "initialEvent", "mainRepresentative", "reportConfig", "uiOptions"})
CONFIG_KEYS = _BOOLEAN_CONFIG | _OTHER_CONFIG
"""The ``config`` keys a run takes (from Ballerine's ``ConfigSchema``); any other is a 400."""

_SUBSCRIPTION_KEYS = frozenset({"type", "url", "events"})


def entity_name(entity: Mapping[str, Any]) -> str | None:
    """What the case list shows and searches: a business's name, or an individual's first and last names."""
    data = entity.get("data")
    if not isinstance(data, dict):
        return None
    company = data.get("companyName")
    if isinstance(company, str) and company:
        return company
    parts = [data.get(key) for key in ("firstName", "lastName")]
    named = " ".join(part for part in parts if isinstance(part, str) and part)
    return named or None


def check_config(config: Any) -> dict[str, Any]:
    """A run's ``config``: only Ballerine's keys, booleans where they are flags, subscriptions in their shape."""
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise ValidationError(errors=[FieldError("config", "must be a JSON object")])
    errors: list[FieldError] = []
    for key, value in config.items():
        at = f"config.{key}"
        if key not in CONFIG_KEYS:
            errors.append(FieldError(at, f"is not a config key (one of {', '.join(sorted(CONFIG_KEYS))})"))
        elif key in _BOOLEAN_CONFIG and not isinstance(value, bool):
            errors.append(FieldError(at, "must be true or false"))
        elif key == "initialEvent" and not isinstance(value, str):
            errors.append(FieldError(at, "must be an event's name"))
        elif key == "subscriptions":
            errors.extend(subscription_errors(value, at))
    if errors:
        raise ValidationError(errors=errors)
    return dict(config)


def subscription_errors(value: Any, at: str) -> list[FieldError]:
    """``[{type: "webhook", url: http(s) URL, events: [...]}]``, nothing else."""
    if not isinstance(value, list):
        return [FieldError(at, "must be a list of subscriptions")]
    errors: list[FieldError] = []
    for index, item in enumerate(value):
        here = f"{at}[{index}]"
        if not isinstance(item, dict):
            errors.append(FieldError(here, "must be an object {type, url, events}"))
            continue
        errors.extend(
            FieldError(f"{here}.{key}", "is not a subscription field") for key in item if key not in _SUBSCRIPTION_KEYS
        )
        if item.get("type") != "webhook":
            errors.append(FieldError(f"{here}.type", "must be 'webhook'"))
        url = item.get("url")
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(FieldError(f"{here}.url", "must be an http or https URL"))
        events = item.get("events")
        if not isinstance(events, list) or not events:
            errors.append(FieldError(f"{here}.events", f"must list events (of {', '.join(WEBHOOK_EVENTS)})"))
            continue
        for number, event in enumerate(events):
            if event not in WEBHOOK_EVENTS:
                errors.append(FieldError(f"{here}.events[{number}]", f"must be one of {', '.join(WEBHOOK_EVENTS)}"))
    return errors


def check_context(context: Any, *, entity_id_required: bool, default_type: str | None = None) -> dict[str, Any]:
    """A run's context: an object whose ``entity`` has a ``type`` (business, individual; ``default_type``, the
    definition's, when it has none) and an ``id`` (the caller's; or a ``ballerineEntityId``); ``documents`` a
    list of objects."""
    if context is None:
        context = {}
    if not isinstance(context, dict):
        raise ValidationError(errors=[FieldError("context", "must be a JSON object")])
    entity = context.get("entity")
    if entity is None:
        entity = {}
    if not isinstance(entity, dict):
        raise ValidationError(errors=[FieldError("context.entity", "must be a JSON object {type, id, data}")])
    known = entity.get("ballerineEntityId")
    external = entity.get("id")
    if isinstance(external, int) and not isinstance(external, bool):
        external = str(external)
    if entity_id_required and not known and (not isinstance(external, str) or not external):
        raise ValidationError("Entity id is required", [FieldError("context.entity.id", "is required")])
    errors: list[FieldError] = []
    if external is not None:
        problem = name_problem(external) if isinstance(external, str) else "must be a string"
        if problem:
            errors.append(FieldError("context.entity.id", problem))
    if known is not None and (not isinstance(known, str) or not known):
        errors.append(FieldError("context.entity.ballerineEntityId", "must be a non-empty string"))
    if entity.get("type") is None and default_type is not None:
        entity = {**entity, "type": default_type}
    if entity.get("type") not in CASE_ENTITY_TYPES and not (known and entity.get("type") is None):
        errors.append(FieldError("context.entity.type", f"must be one of {', '.join(CASE_ENTITY_TYPES)}"))
    data = entity.get("data")
    if data is not None and not isinstance(data, dict):
        errors.append(FieldError("context.entity.data", "must be a JSON object"))
    documents = context.get("documents", [])
    if not isinstance(documents, list):
        errors.append(FieldError("context.documents", "must be a list of documents"))
    else:
        errors.extend(
            FieldError(f"context.documents[{index}]", "must be a JSON object")
            for index, document in enumerate(documents)
            if not isinstance(document, dict)
        )
    if errors:
        raise ValidationError(errors=errors)
    checked = dict(context)
    checked["entity"] = {**entity, "id": external} if external is not None else dict(entity)
    checked["documents"] = documents
    return checked


def check_inputs(definition: WorkflowDef, context: Mapping[str, Any]) -> None:
    """The context against the definition's declared ``inputs`` (Elsa's; the context is the run's input): a
    400 naming each required one missing and each of the wrong type (``context.riskLevel``), before anything
    is stored (the start checks them again, as every way in does)."""
    errors = input_errors(definition.inputs, context, "context")
    if errors:
        raise ValidationError(errors=errors)


def with_document_ids(documents: list[Any], new_id: Callable[[], str]) -> list[Any]:
    """Each document with an ``id`` (a new one where it has none), as Ballerine gives them."""
    return [
        document if not isinstance(document, dict) or document.get("id") else {**document, "id": new_id()}
        for document in documents
    ]


def with_payload_ids(payload: dict[str, Any], new_id: Callable[[], str]) -> dict[str, Any]:
    """An event's payload with an ``id`` on each of its documents that has none, given before the merge so that
    the merge is a pure function of the run (``merge_payload``)."""
    documents = payload.get("documents")
    if not isinstance(documents, list):
        return payload
    return {**payload, "documents": with_document_ids(documents, new_id)}


def merge_payload(context: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
    """The context with an event's payload merged in: objects key by key, lists and values replaced, except
    ``documents``: a document whose ``id`` the context holds replaces that one (a resubmission: one sent back
    for revision becomes ``revised``), the others are added. Pure: the payload's documents carry their ids
    (``with_payload_ids``)."""
    merged = _deep_merge(context, {key: value for key, value in payload.items() if key != "documents"})
    incoming = payload.get("documents")
    if isinstance(incoming, list):
        merged["documents"] = _merge_documents(context.get("documents"), incoming)
    return merged


def _deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        current = merged.get(key)
        merged[key] = _deep_merge(current, value) if isinstance(current, dict) and isinstance(value, dict) else value
    return merged


def _merge_documents(current: Any, incoming: list[Any]) -> list[Any]:
    documents = list(current) if isinstance(current, list) else []
    at = {doc.get("id"): index for index, doc in enumerate(documents) if isinstance(doc, dict) and doc.get("id")}
    for document in incoming:
        index = at.get(document.get("id")) if isinstance(document, dict) else None
        if index is None:
            documents.append(document)
            continue
        previous = documents[index]
        decision = previous.get("decision") if isinstance(previous, dict) else None
        if "decision" not in document and isinstance(decision, dict) and decision.get("status") == "revision":
            document = {**document, "decision": {"status": "revised"}}
        documents[index] = document
    return documents


def document_statuses(context: Mapping[str, Any]) -> dict[str, str]:
    """Each decided document's status by its id (``workflow.context.document.changed`` is told when these
    change)."""
    documents = context.get("documents")
    found: dict[str, str] = {}
    for document in documents if isinstance(documents, list) else ():
        decision = document.get("decision") if isinstance(document, dict) else None
        status = decision.get("status") if isinstance(decision, dict) else None
        if isinstance(status, str) and isinstance(document.get("id"), str):
            found[document["id"]] = status
    return found
