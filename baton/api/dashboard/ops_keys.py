"""Applications and their access keys (ADMIN only: MANAGE), and the audit log (MANAGE), through
``service.access`` and ``service.audit``.

A key's secret exists in the clear only in the answer to creating it: that answer is the page itself (200, never
cached), not a redirect, so the secret is never in an address or a history entry, and it cannot be shown again.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from baton.api.dashboard.forms import check_csrf, read_form, required
from baton.api.dashboard.templating import page
from baton.api.params import int_param, optional_int_param
from baton.api.state import service
from baton.errors import FieldError, ValidationError
from baton.model.access import AccessKey, Permission, Role
from baton.model.audit import AuditAction, AuditQuery, TargetKind

KEYS_PAGE = "/ui/operations/keys"
AUDIT_PAGE_SIZE = 50
ROLE_FIELD = "role_"
"""A role's checkbox is named ``role_<ROLE>`` (a form's repeated field keeps only its last value)."""


async def keys_page(request: Request) -> Response:
    access = service(request).access
    applications = await access.list_applications()
    keys = await access.list_keys()
    by_application: dict[str, list[AccessKey]] = {}
    for key in keys:
        by_application.setdefault(key.application_id, []).append(key)
    done, subject = request.query_params.get("done", ""), request.query_params.get("id", "")
    # Said only of what is there: a link made elsewhere cannot make the page claim what did not happen.
    named = {a.id: a.name for a in applications} if done == "application" else {k.id: k.id for k in keys}
    if done not in ("application", "revoked") or subject not in named:
        done = ""
    return page(
        request,
        "operations_keys.html",
        applications=applications,
        keys=by_application,
        roles=list(Role),
        role_field=ROLE_FIELD,
        done=done,
        subject=named.get(subject, ""),
    )


async def create_application(request: Request) -> Response:
    await check_csrf(request)
    form = await read_form(request)
    errors: list[FieldError] = []
    name = required(form, "name", errors)
    roles = frozenset(role for role in Role if form.get(f"{ROLE_FIELD}{role.value}") == "on")
    if not roles:
        errors.append(FieldError("roles", "choose at least one role"))
    if errors:
        raise ValidationError(errors=errors)
    application = await service(request).access.create_application(name, roles)
    return RedirectResponse(f"{KEYS_PAGE}?{urlencode({'done': 'application', 'id': application.id})}", status_code=303)


async def create_key(request: Request) -> Response:
    await check_csrf(request)
    access = service(request).access
    application = await access.get_application(request.path_params["application_id"])
    made = await access.create_key(application.id)
    return page(request, "operations_key_created.html", application=application, key=made.key, secret=made.secret)


async def revoke_key(request: Request) -> Response:
    await check_csrf(request)
    key = await service(request).access.revoke_key(request.path_params["key_id"])
    return RedirectResponse(f"{KEYS_PAGE}?{urlencode({'done': 'revoked', 'id': key.id})}", status_code=303)


@dataclass(frozen=True, slots=True)
class AuditFilters:
    actor: str
    action: str
    target_kind: str
    target_id: str
    limit: int

    @classmethod
    def of(cls, request: Request) -> AuditFilters:
        query = request.query_params
        return cls(
            actor=query.get("actor", "").strip(),
            action=query.get("action", "").strip(),
            target_kind=query.get("targetKind", "").strip(),
            target_id=query.get("targetId", "").strip(),
            limit=int_param(request, "limit", AUDIT_PAGE_SIZE),
        )

    def link(self, before: int | None = None) -> str:
        fields = {
            "actor": self.actor,
            "action": self.action,
            "targetKind": self.target_kind,
            "targetId": self.target_id,
            "limit": "" if self.limit == AUDIT_PAGE_SIZE else str(self.limit),
            "before": "" if before is None else str(before),
        }
        return f"/ui/operations/audit?{urlencode({k: v for k, v in fields.items() if v})}"


async def audit_page(request: Request) -> Response:
    filters = AuditFilters.of(request)
    before = optional_int_param(request, "before", minimum=1)
    found = await service(request).audit.entries(
        AuditQuery(
            actor=filters.actor or None,
            action=filters.action or None,
            target_kind=filters.target_kind or None,
            target_id=filters.target_id or None,
            before=before,
            limit=filters.limit,
        )
    )
    return page(
        request,
        "operations_audit.html",
        entries=found.results,
        next_before=found.next_before,
        paged=before is not None,
        filters=filters,
        actions=list(AuditAction),
        target_kinds=list(TargetKind),
    )


RULES: dict[str, Permission] = {
    "GET /operations/keys": Permission.MANAGE,
    "POST /operations/keys/applications": Permission.MANAGE,
    "POST /operations/keys/applications/{application_id}/keys": Permission.MANAGE,
    "POST /operations/keys/{key_id}/revoke": Permission.MANAGE,
    "GET /operations/audit": Permission.MANAGE,
}

routes = [
    Route("/operations/keys", keys_page, methods=["GET"]),
    Route("/operations/keys/applications", create_application, methods=["POST"]),
    Route("/operations/keys/applications/{application_id}/keys", create_key, methods=["POST"]),
    Route("/operations/keys/{key_id}/revoke", revoke_key, methods=["POST"]),
    Route("/operations/audit", audit_page, methods=["GET"]),
]
