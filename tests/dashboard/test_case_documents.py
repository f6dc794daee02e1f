"""How a case's document pages are shown: pictures and PDFs inline, other web addresses as links, and anything
else (``javascript:``, ``data:text/html``, a page number) only named, never put on the page."""

from __future__ import annotations

from typing import Any

import pytest

from baton.api.dashboard.case_documents import document_view, document_views, page_view


@pytest.mark.parametrize(
    ("sent", "kind"),
    [
        ({"uri": "data:image/png;base64,iVBORw0KGgo=", "type": "png"}, "image"),
        ("data:image/svg+xml;base64,PHN2Zz4=", "image"),
        ({"uri": "data:application/pdf;base64,JVBERi0=", "type": "pdf"}, "pdf"),
        ({"uri": "https://files.example/scan.pdf"}, "pdf"),
        ({"uri": "https://files.example/scan", "type": "application/pdf"}, "pdf"),
        ({"url": "https://files.example/id.JPG"}, "image"),
        ({"uri": "https://files.example/id", "mimeType": "image/jpeg"}, "image"),
        ({"uri": "https://files.example/report.docx"}, "link"),
        ({"uri": "javascript:alert(1)", "type": "png"}, "unshown"),
        ({"uri": "data:text/html,<script>alert(1)</script>", "type": "png"}, "unshown"),
        ({"uri": "file:///etc/passwd", "type": "pdf"}, "unshown"),
        ({"uri": "https:///no-host.png"}, "unshown"),
        ({"type": "png"}, "unshown"),
        (1, "unshown"),
    ],
)
def test_a_page_is_shown_by_what_it_is_and_only_from_safe_addresses(sent: Any, kind: str) -> None:
    shown = page_view(sent, 1)
    assert shown.kind == kind
    assert (shown.url == "") == (kind == "unshown")


def test_a_document_is_named_and_decided_from_its_fields() -> None:
    document = {
        "id": "bill",
        "category": "proof_of_address",
        "type": "utility_bill",
        "decision": {"status": "rejected", "rejectionReason": "cut off", "comment": "rescan"},
        "pages": [{"uri": "data:image/png;base64,AA==", "type": "png"}],
        "issuer": {"country": "GB"},
    }
    view = document_view(document, 0)
    assert (view.document_id, view.title) == ("bill", "proof_of_address · utility_bill")
    assert (view.status, view.reason, view.comment) == ("rejected", "cut off", "rescan")
    assert [page.kind for page in view.pages] == ["image"]
    assert set(view.data) == {"id", "category", "type", "issuer"}, "pages and decision are shown apart"
    assert document_view({"id": "x"}, 2).title == "Document 3"
    assert [v.document_id for v in document_views([{"id": "a"}, "junk", {"id": "b"}])] == ["a", "b"]
    assert document_views({"not": "a list"}) == []
