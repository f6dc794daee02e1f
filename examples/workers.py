"""The workers the bundled example workflows need, as the README runs them::

    .venv/bin/baton worker examples/workers.py --server http://127.0.0.1:8080

``order_fulfilment`` needs ``charge_payment`` and ``ship_order``; ``customer_onboarding`` needs ``kyb_check``;
``kyb_review`` (Ballerine's way in) needs ``kyb_document_check``.
Each is a plain function of the task's input, returning the task's output: stand-ins for a payment provider,
a carrier and a company register, kept deterministic so that the README's outputs are what you get.
"""

from __future__ import annotations

from baton.sdk import worker_task

DECLINED_ABOVE = 10_000
"""Charges above this amount are declined: start order_fulfilment with more to see its TERMINATE branch."""

HIGH_RISK_COUNTRIES = frozenset({"XX"})
"""Countries the stand-in register scores as high risk (no real country is)."""


@worker_task("charge_payment")
def charge_payment(orderId: str, amount: float) -> dict[str, object]:
    """Charges ``amount`` for the order: ``PAID`` with a charge id, or ``DECLINED`` when it is too large."""
    if not isinstance(amount, int | float) or amount <= 0 or amount > DECLINED_ABOVE:
        return {"status": "DECLINED", "orderId": orderId}
    return {"status": "PAID", "orderId": orderId, "chargeId": f"ch_{orderId}"}


@worker_task("ship_order")
def ship_order(orderId: str) -> dict[str, object]:
    """Books the parcel: its tracking number."""
    return {"trackingNumber": f"TRACK-{orderId}"}


@worker_task("kyb_check")
def kyb_check(companyName: str, country: str) -> dict[str, object]:
    """Checks the company (know your business): verified, with a risk score from 0 (none) to 100."""
    score = 90 if country in HIGH_RISK_COUNTRIES else 10
    return {"verified": bool(companyName), "riskScore": score}


@worker_task("kyb_document_check")
def kyb_document_check(entity: dict[str, object], documents: list[dict[str, object]]) -> dict[str, object]:
    """Checks a case's documents (the context's, as they are now): each needs a ``type``; a registration
    document must be among them."""
    types = [document.get("type") for document in documents or []]
    findings = [f"document {index} has no type" for index, kind in enumerate(types) if not kind]
    if "registration" not in types:
        findings.append("no registration document")
    return {"passed": not findings, "findings": findings, "checked": len(types)}
